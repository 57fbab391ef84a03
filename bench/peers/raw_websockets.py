"""The ceiling: a plain `websockets` broadcast server speaking the protocol subset.

    python bench/peers/raw_websockets.py --port 8001

auth_success on connect (the token is ignored), join_room -> room_state (onlineCount),
chat -> encoded once and broadcast to the room's sockets (sender included),
ping -> pong, leave_room. No database, no channel layer, one process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import time
import uuid
from datetime import UTC, datetime

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

ROOMS: dict[str, set[ServerConnection]] = {}
_ids = itertools.count(1)
_users = itertools.count(1)


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def frame(obj: dict) -> bytes:
    return orjson.dumps(obj)


async def handler(ws: ServerConnection) -> None:
    user = str(next(_users))
    joined: set[str] = set()
    await ws.send(
        frame(
            {
                "type": "auth_success",
                "data": {"userId": user, "sessionId": str(uuid.uuid4())},
            }
        ),
        text=True,
    )
    try:
        async for raw in ws:
            try:
                msg = orjson.loads(raw)
                kind, data = msg.get("type"), msg.get("data") or {}
            except (orjson.JSONDecodeError, AttributeError):
                continue
            if kind == "chat":
                room = data.get("roomId")
                members = ROOMS.get(room)
                if members is None or ws not in members:
                    continue
                out = frame(
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
                broadcast(members, out, text=True)  # one encode, one write per socket
            elif kind == "ping":
                reply = {"type": "pong", "timestamp": int(time.time() * 1000)}
                if "requestId" in msg:
                    reply["requestId"] = msg["requestId"]
                await ws.send(frame(reply), text=True)
            elif kind == "join_room":
                room = str(data.get("roomId"))
                ROOMS.setdefault(room, set()).add(ws)
                joined.add(room)
                state = {
                    "roomId": room,
                    "roomType": data.get("roomType", "live_stream"),
                    "title": room,
                    "onlineCount": len(ROOMS[room]),
                    "recent": [],
                }
                await ws.send(frame({"type": "room_state", "data": state}), text=True)
            elif kind == "leave_room":
                room = str(data.get("roomId"))
                ROOMS.get(room, set()).discard(ws)
                joined.discard(room)
    except ConnectionClosed:
        pass
    finally:
        for room in joined:
            members = ROOMS.get(room)
            if members is not None:
                members.discard(ws)
                if not members:
                    del ROOMS[room]


async def main(host: str, port: int) -> None:
    async with serve(
        handler, host, port, max_size=2**16, compression=None, backlog=1024
    ) as s:
        await s.serve_forever()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8001)
    a = ap.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # run.py stops it with SIGINT
        asyncio.run(main(a.host, a.port))
