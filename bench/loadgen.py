"""WebSocket load generator for the YYC3 realtime protocol (see bench/README.md).

    python bench/loadgen.py fanout   --port 8000 [--subs 200 --rate 100 --duration 10]
    python bench/loadgen.py saturate --port 8000 [--subs 200 --window 16]
    python bench/loadgen.py rooms    --port 8000 [--rooms 100 --members 5 --rate 1]
    python bench/loadgen.py idle     --port 8000 [--conns 2000]
    python bench/loadgen.py persist  --port 8000 [--senders 20 --rooms 10]
    python bench/loadgen.py joins    --port 8000 [--conns 2000 --room-size 20]
    python bench/loadgen.py live     --port 8000 [--viewers 5000 --rate 20]

Common: --server-pid PID (default: the process listening on --port), --tokens FILE (one
JWT per line, user i uses line i mod N), --json OUT (write the result), --deadline S.
Pin it away from the server: `taskset -c 1 python bench/loadgen.py ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import scenarios  # noqa: E402
import sessions  # noqa: E402
from lgcore import Ctx  # noqa: E402
from metrics import CpuWindow, find_listener_pid  # noqa: E402


def raise_nofile() -> int:
    """Soft fd limit up to the hard limit (idle needs thousands of sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument(
        "scenario",
        choices=["fanout", "saturate", "rooms", "idle", "persist", "joins", "live"],
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--server-pid", type=int, default=None)
    p.add_argument(
        "--redis-port", type=int, default=6379, help="its CPU is reported; 0: no"
    )
    p.add_argument("--tokens", help="file with one JWT per line")
    p.add_argument("--room-prefix", default=None, help="default: bench-<random>-")
    p.add_argument("--batch", type=int, default=100, help="connections opened at once")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--drain", type=float, default=10.0, help="max wait for stragglers")
    p.add_argument("--deadline", type=float, default=300.0, help="hard cap, seconds")
    p.add_argument("--json", help="write the result dict to this file")
    p.add_argument(
        "--deflate",
        action="store_true",
        help="offer permessage-deflate on every socket, as browsers do",
    )
    g = p.add_argument_group("fanout / saturate")
    g.add_argument("--subs", type=int, default=200)
    g.add_argument("--rate", type=float, default=None, help="fanout 100/s, rooms 1/s")
    g.add_argument(
        "--window", type=int, default=16, help="saturate: messages in flight"
    )
    g.add_argument(
        "--warmup", type=float, default=1.0, help="saturate: unmeasured start"
    )
    g = p.add_argument_group("rooms / persist / idle")
    g.add_argument("--rooms", type=int, default=None, help="rooms 100, persist 10")
    g.add_argument("--members", type=int, default=5)
    g.add_argument("--senders", type=int, default=20)
    g.add_argument("--conns", type=int, default=2000)
    g.add_argument("--room-size", type=int, default=20, help="idle: members per room")
    g.add_argument("--hold", type=float, default=2.0, help="idle: settle before RSS")
    g = p.add_argument_group("live")
    g.add_argument("--viewers", type=int, default=5000, help="in one live room")
    g.add_argument(
        "--live-senders", type=int, default=5, help="viewers sending (rate in total)"
    )
    g.add_argument(
        "--sample-rate",
        type=float,
        default=0.0,
        help="the room's danmaku rate the server samples above (0: every chat)",
    )
    return p.parse_args(argv)


async def run(a: argparse.Namespace, ctx: Ctx) -> dict:
    if a.scenario in ("fanout", "saturate"):
        return await scenarios.fanout(
            ctx,
            subs=a.subs,
            rate=a.rate or 100.0,
            duration=a.duration,
            drain=a.drain,
            saturate=a.scenario == "saturate",
            window=a.window,
            warmup=a.warmup,
        )
    if a.scenario == "rooms":
        return await scenarios.rooms(
            ctx,
            rooms=a.rooms or 100,
            members=a.members,
            rate=a.rate or 1.0,
            duration=a.duration,
            drain=a.drain,
        )
    if a.scenario == "live":
        return await scenarios.live(
            ctx,
            viewers=a.viewers,
            senders=a.live_senders,
            rate=a.rate or 20.0,
            duration=a.duration,
            drain=a.drain,
            sample_rate=a.sample_rate,
        )
    if a.scenario == "idle":
        return await sessions.idle(
            ctx, conns=a.conns, room_size=a.room_size, hold=a.hold
        )
    if a.scenario == "joins":
        return await scenarios.joins(ctx, conns=a.conns, room_size=a.room_size)
    return await sessions.persist(
        ctx, senders=a.senders, rooms=a.rooms or 10, duration=a.duration
    )


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    nofile = raise_nofile()
    tokens: list[str] = []
    if a.tokens:
        with open(a.tokens) as f:
            tokens = [line.strip() for line in f if line.strip()]
    pid = a.server_pid or find_listener_pid(a.port)
    CpuWindow.redis_pid = find_listener_pid(a.redis_port) if a.redis_port else None
    ctx = Ctx(
        host=a.host,
        port=a.port,
        tokens=tokens,
        server_pid=pid,
        batch=a.batch,
        room_prefix=a.room_prefix or f"bench-{secrets.token_hex(3)}-",
        deflate=a.deflate,
    )
    t0 = time.monotonic()
    try:
        result = asyncio.run(asyncio.wait_for(run(a, ctx), a.deadline))
    except TimeoutError:
        result = {"error": f"deadline of {a.deadline}s exceeded"}
    result = {
        "scenario": a.scenario,
        "server_pid": pid,
        "tokens": len(tokens),
        "nofile": nofile,
        "elapsed_s": round(time.monotonic() - t0, 1),
        **result,
        "deflate_offered": a.deflate,
        "deflate_negotiated": ctx.deflated,
        "setup_failures": dict(ctx.failures),
    }
    text = json.dumps(result, indent=1, ensure_ascii=False)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text)
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
