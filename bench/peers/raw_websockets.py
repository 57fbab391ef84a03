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

import orjson
import subset
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

ROOMS: dict[str, set[ServerConnection]] = {}
_ids = itertools.count(1)
_users = itertools.count(1)


def frame(obj: dict) -> bytes:
    return orjson.dumps(obj)


async def handler(ws: ServerConnection) -> None:
    user = str(next(_users))
    joined: set[str] = set()
    await ws.send(frame(subset.auth_success(user)), text=True)
    try:
        async for raw in ws:
            parsed = subset.parse(raw)
            if parsed is None:
                continue
            kind, data, msg = parsed
            if kind == "chat":
                room = data.get("roomId")
                members = ROOMS.get(room)
                if members is None or ws not in members:
                    continue
                out = frame(subset.chat(next(_ids), room, user, data))
                broadcast(members, out, text=True)  # one encode, one write per socket
            elif kind == "ping":
                await ws.send(frame(subset.pong(msg)), text=True)
            elif kind == "join_room":
                room = str(data.get("roomId"))
                ROOMS.setdefault(room, set()).add(ws)
                joined.add(room)
                state = subset.room_state(room, data, len(ROOMS[room]))
                await ws.send(frame(state), text=True)
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
    # permessage-deflate as websockets offers it by default (the same window and
    # memLevel as uvicorn's): agreed only with a client that asks (`--deflate`).
    async with serve(
        handler, host, port, max_size=2**16, compression="deflate", backlog=1024
    ) as s:
        await s.serve_forever()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8001)
    a = ap.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # run.py stops it with SIGINT
        asyncio.run(main(a.host, a.port))
