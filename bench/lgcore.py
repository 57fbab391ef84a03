"""Load-generator plumbing shared by the scenarios: connection ramp, join handshake,
chat frames carrying a send timestamp, frame accounting."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from dataclasses import dataclass, field

import orjson
from wsclient import WSConn, connect

now_ns = time.perf_counter_ns  # same clock as WSConn's receive stamps
ROOM_TYPE = "live_stream"


class StepError(Exception):
    """A connection failed at a step of the join handshake (the message says which)."""


@dataclass
class Ctx:
    """Where to connect and with what identities."""

    host: str = "127.0.0.1"
    port: int = 8000
    tokens: list[str] = field(default_factory=list)
    server_pid: int | None = None
    room_prefix: str = "bench-"
    batch: int = 100  # connections opened concurrently during a ramp
    step_timeout: float = 10.0  # bound for each connect / auth / join / pong wait
    failures: Counter = field(default_factory=Counter)
    deflate: bool = False  # offer permessage-deflate, as browsers do
    deflated: int = 0  # connections on which the server accepted it

    def path(self, index: int) -> str:
        if not self.tokens:
            return "/ws"
        return f"/ws?token={self.tokens[index % len(self.tokens)]}"

    async def join(self, index: int, room: str) -> WSConn:
        """Connect as user `index`, wait auth_success, join `room`, wait for the join's
        answer (room_state or user_joined), then a ping -> pong round trip."""
        t = self.step_timeout
        step = "connect"
        conn = None
        try:
            conn = await connect(
                self.host, self.port, self.path(index), index, t, self.deflate
            )
            self.deflated += conn.inflater is not None
            step = "auth_success"
            await conn.expect("auth_success", timeout=t)
            step = "join answer"
            join = {
                "type": "join_room",
                "data": {"roomId": room, "roomType": ROOM_TYPE},
            }
            await conn.expect("room_state", "user_joined", timeout=t, send=join)
            step = "pong"
            await conn.expect("pong", timeout=t, send=ping())
        except (TimeoutError, OSError, RuntimeError) as e:
            if conn is not None:
                conn.close()
            raise StepError(f"{step}: {type(e).__name__} {str(e)[:150]}") from None
        return conn

    async def open_members(self, specs: list[tuple[int, str]]) -> list[WSConn]:
        """Join (index, room) pairs in batches of `self.batch`; failures are counted in
        `self.failures` and left out of the returned list."""
        conns: list[WSConn] = []
        for i in range(0, len(specs), self.batch):
            chunk = specs[i : i + self.batch]
            got = await asyncio.gather(
                *(self.join(idx, room) for idx, room in chunk), return_exceptions=True
            )
            for res in got:
                if isinstance(res, BaseException):
                    self.failures[str(res)[:200]] += 1
                else:
                    conns.append(res)
        return conns


def ping() -> dict:
    return {"type": "ping", "timestamp": time.time_ns() // 1_000_000, "requestId": "j"}


def chat_frame(room: str, seq: int, pub: int) -> bytes:
    """A `chat` whose message is JSON {t: send time ns, s: seq, p: publisher index}."""
    inner = b'{"t":%d,"s":%d,"p":%d}' % (now_ns(), seq, pub)
    return orjson.dumps(
        {
            "type": "chat",
            "data": {"roomId": room, "message": inner.decode(), "messageType": "text"},
        }
    )


class FrameLog:
    """Counts frames that are not our chats (presence, user_joined, errors...)."""

    def __init__(self) -> None:
        self.other: Counter = Counter()
        self.errors: Counter = Counter()
        self.n_errors = 0

    def note(self, msg: dict) -> None:
        kind = msg.get("type")
        self.other[kind] += 1
        if kind == "error":
            self.n_errors += 1
            data = msg.get("data") or {}
            self.errors[f"{data.get('code')}:{data.get('ref')}"] += 1

    def report(self) -> dict:
        return {"other_frames": dict(self.other), "errors": dict(self.errors)}


# Fast path: our stamp as it appears JSON-escaped inside the outer frame's "message";
# one regex search instead of two orjson.loads and a dict walk. Anything else (another
# key order, spaces, other frame types) takes the full parse.
_STAMP = re.compile(rb'\\"t\\":(\d+),\\"s\\":(\d+),\\"p\\":(\d+)')
_IS_CHAT = b'"type":"chat"'


def parse_chat(payload: bytes, log: FrameLog) -> tuple[int, int, int] | None:
    """(send_ns, seq, publisher) of one of our chat deliveries, else None."""
    if _IS_CHAT in payload:
        m = _STAMP.search(payload)
        if m is not None:
            return int(m[1]), int(m[2]), int(m[3])
    try:
        msg = orjson.loads(payload)
        if msg.get("type") != "chat":
            log.note(msg)
            return None
        inner = orjson.loads(msg["data"]["message"])
        return inner["t"], inner["s"], inner["p"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        log.other["unparsed"] += 1
        return None


async def pace(rate: float, duration: float, send, phase: float = 0.0) -> int:
    """Call send(i) `rate` times a second for `duration` s, catching up if late.
    Returns how many were sent."""
    loop = asyncio.get_running_loop()
    start = loop.time() + phase
    end = loop.time() + duration
    i = 0
    while True:
        t = start + i / rate
        if t >= end:
            return i
        delay = t - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        send(i)
        i += 1


async def wait_until(
    cond, timeout: float, quiet: float | None = None, last_rx=None
) -> None:
    """Poll `cond()` every 50 ms up to `timeout` s; with `quiet`, also stop once no
    frame arrived for `quiet` s (`last_rx()` returns the last receive time, perf ns)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond() and loop.time() < end:
        if quiet is not None and (now_ns() - last_rx()) / 1e9 > quiet:
            return
        await asyncio.sleep(0.05)


def close_all(conns: list[WSConn]) -> dict:
    """Close our sockets; returns {close code: count} of those the server had closed
    before (e.g. 4008 flood, 1013 outbox full, 1006 dropped)."""
    codes: Counter = Counter()
    for c in conns:
        if c.closed and not c.closing:
            codes[str(c.close_code)] += 1
        c.close()
    return {"closed_by_server": dict(codes)}
