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

import orjson
import subset

ROOMS: dict[str, set] = {}
_ids = itertools.count(1)
_users = itertools.count(1)


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
    await send(text(subset.auth_success(user)))
    try:
        while True:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                break
            parsed = subset.parse(event.get("text") or event.get("bytes") or b"")
            if parsed is None:
                continue
            kind, data, msg = parsed
            if kind == "chat":
                room = data.get("roomId")
                members = ROOMS.get(room)
                if members is None or send not in members:
                    continue
                out = text(subset.chat(next(_ids), room, user, data))
                for member in list(members):  # one encode, one send per socket
                    await member(out)
            elif kind == "ping":
                await send(text(subset.pong(msg)))
            elif kind == "join_room":
                room = str(data.get("roomId"))
                ROOMS.setdefault(room, set()).add(send)
                joined.add(room)
                await send(text(subset.room_state(room, data, len(ROOMS[room]))))
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
