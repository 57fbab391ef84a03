"""Benchmark: what the metrics cost on the hot paths, with and without.

Times, in one process and one run, with `METRICS_ENABLED` on and off
alternately (best of several rounds each):

- one fan-out: the hub's `deliver` of a frame to N local sockets whose send
  completes at once (the usual case), so the loop is what it is in the server;
- one parsed client frame's count (`metrics.received`) and one frame sent to a
  socket (`metrics.sent`), i.e. what `Connection.receive` / `send_text` add;
- one group-commit batch's bookkeeping (`metrics.batch_stored`).

The end-to-end ratio (the server with METRICS_ENABLED=0 beside the same server
with it on) is `bench/run.py --only raw,project,project-nometrics`; this one
isolates the hooks from the machine's noise.

    .venv/bin/python bench/bench_metrics.py [--sockets 200] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yyc3_realtime.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from chat.protocol import MESSAGES  # noqa: E402
from realtime import metrics, wire  # noqa: E402
from realtime.hub import Hub  # noqa: E402
from realtime.outbox import Outbox  # noqa: E402


class Socket:
    """A subscriber whose sends complete at once, through a real Outbox."""

    def __init__(self) -> None:
        self.outbox = Outbox(self.send)

    async def send(self, message: dict) -> None:
        return None

    def deliver(self, message: dict) -> None:
        self.outbox.push(message)

    def control(self, topic: str, action: dict) -> None:
        pass


def best_us(fn, calls: int, rounds: int) -> dict[bool, float]:
    """Return {metrics on: µs per call, off: ...}, best round of each, the two
    settings alternating so that drift hits both."""
    best = {True: float("inf"), False: float("inf")}
    for _ in range(rounds):
        for enabled in (True, False):
            settings.METRICS_ENABLED = enabled
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            elapsed = time.perf_counter() - start
            best[enabled] = min(best[enabled], elapsed / calls * 1e6)
    settings.METRICS_ENABLED = True
    return best


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    a = parser.parse_args()
    hub = Hub()
    topic = "room.1"
    hub.topics[topic] = {Socket() for _ in range(a.sockets)}
    chat = wire.encode(
        wire.frame(
            "chat",
            {"id": "1", "roomId": "bench", "message": "今天的剧情真好看" * 4},
        )
    )
    text = wire.encode(wire.pong("r"))
    rows = [
        (
            f"fan-out of a chat to {a.sockets} sockets (hub.deliver)",
            best_us(lambda: hub.deliver(topic, chat), 2000, a.rounds),
        ),
        (
            "fan-out of a chat to 1 socket (hub.deliver)",
            best_us(_one_socket_deliver(chat), 200_000, a.rounds),
        ),
        (
            "a parsed client frame (metrics.received)",
            best_us(lambda: metrics.received(MESSAGES, "chat"), 500_000, a.rounds),
        ),
        (
            "a frame sent to one socket (metrics.sent)",
            best_us(lambda: metrics.sent(text), 500_000, a.rounds),
        ),
        (
            "a batch of 20 stored chats (metrics.batch_stored)",
            best_us(
                lambda: metrics.batch_stored(
                    hub, [None] * 20, [(None, True)] * 20, metrics.clock()
                ),
                200_000,
                a.rounds,
            ),
        ),
    ]
    print("| hot path | with metrics µs | without µs | cost µs | ratio |")
    print("|---|---|---|---|---|")
    for label, best in rows:
        on, off = best[True], best[False]
        print(f"| {label} | {on:.3f} | {off:.3f} | {on - off:.3f} | {on / off:.3f}× |")


def _one_socket_deliver(chat: str):
    hub = Hub()
    hub.topics["user.1"] = {Socket()}
    return lambda: hub.deliver("user.1", chat)


if __name__ == "__main__":
    asyncio.run(main())
