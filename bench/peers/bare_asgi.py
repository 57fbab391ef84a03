"""The ASGI floor: a bare ASGI app on uvicorn speaking the same protocol subset as
raw_websockets.py (auth_success on connect, join_room -> room_state, chat broadcast
to the room encoded once, ping -> pong, leave_room). No framework, no database.

    uvicorn bare_asgi:app --app-dir bench/peers --ws websockets-sansio --port 8002

What is left between this and raw_websockets.py is the ASGI server's own cost
(uvicorn's protocol object, scope, receive queue, one task per socket); what is
left between this and the project is Channels, Django and the application.
"""

from __future__ import annotations

import itertools
import time
import uuid
from datetime import UTC, datetime

import orjson

ROOMS: dict[str, set] = {}
_ids = itertools.count(1)
_users = itertools.count(1)


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def text(obj: dict) -> dict:
    return {"type": "websocket.send", "text": orjson.dumps(obj).decode()}


async def app(scope, receive, send) -> None:
    if scope["type"] != "websocket":  # lifespan, http: nothing to do
        return
    user = str(next(_users))
    joined: set[str] = set()
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    hello = {"userId": user, "sessionId": str(uuid.uuid4())}
    await send(text({"type": "auth_success", "data": hello}))
    try:
        while True:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                break
            try:
                msg = orjson.loads(event.get("text") or event.get("bytes") or b"")
                kind, data = msg.get("type"), msg.get("data") or {}
            except (orjson.JSONDecodeError, AttributeError):
                continue
            if kind == "chat":
                room = data.get("roomId")
                members = ROOMS.get(room)
                if members is None or send not in members:
                    continue
                out = text(
                    {
                        "type": "chat",
                        "data": {
                            "id": f"{next(_ids):012d}",
                            "roomId": room,
                            "senderId": user,
                            "senderName": f"user{user}",
                            "message": data.get("message"),
                            "messageType": data.get("messageType", "text"),
                            "timestamp": iso_now(),
                        },
                    }
                )
                for member in list(members):  # one encode, one send per socket
                    await member(out)
            elif kind == "ping":
                reply = {"type": "pong", "timestamp": int(time.time() * 1000)}
                if "requestId" in msg:
                    reply["requestId"] = msg["requestId"]
                await send(text(reply))
            elif kind == "join_room":
                room = str(data.get("roomId"))
                ROOMS.setdefault(room, set()).add(send)
                joined.add(room)
                state = {
                    "roomId": room,
                    "roomType": data.get("roomType", "live_stream"),
                    "title": room,
                    "onlineCount": len(ROOMS[room]),
                    "recent": [],
                }
                await send(text({"type": "room_state", "data": state}))
            elif kind == "leave_room":
                room = str(data.get("roomId"))
                ROOMS.get(room, set()).discard(send)
                joined.discard(room)
    finally:
        for room in joined:
            members = ROOMS.get(room)
            if members is not None:
                members.discard(send)
                if not members:
                    del ROOMS[room]
