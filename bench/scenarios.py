"""The benchmark scenarios. Each returns a flat dict of figures (JSON-serialisable).

Latency is receive time minus the send time carried in the chat (both perf_counter_ns
of this process), so it includes the loadgen's own queueing as well as the server's.
"""

from __future__ import annotations

import asyncio
import random

from lgcore import (
    ROOM_TYPE,
    Ctx,
    FrameLog,
    chat_frame,
    close_all,
    now_ns,
    pace,
    parse_chat,
    wait_until,
)
from metrics import CpuWindow, Histogram
from wsclient import WSConn, connect


class Deliveries:
    """Per-delivery accounting shared by the fan-out and rooms scenarios."""

    def __init__(self) -> None:
        self.hist = Histogram()
        self.log = FrameLog()
        self.received = 0  # all deliveries of our chats
        self.in_window = 0  # deliveries while `measuring`
        self.measuring = False
        self.last_rx = now_ns()
        self.on_seq = None  # optional hook(seq) for closed-loop publishing

    def handler(self, conn: WSConn, payload: bytes, now: int) -> None:
        got = parse_chat(payload, self.log)
        if got is None:
            return
        sent, seq, _ = got
        self.received += 1
        self.last_rx = now
        if self.measuring:
            self.in_window += 1
            self.hist.add_us((now - sent) // 1000)
        if self.on_seq is not None:
            self.on_seq(seq)


async def fanout(
    ctx: Ctx,
    subs=200,
    rate=100.0,
    duration=10.0,
    drain=10.0,
    saturate=False,
    window=16,
    warmup=1.0,
    msg_timeout=10.0,
) -> dict:
    """One publisher (user 0) and `subs` subscribers in one live_stream room.

    rate mode: `rate` msgs/s for `duration` s, then up to `drain` s for stragglers.
    saturate: closed loop, `window` messages in flight; a message leaves the window when
    every subscriber got it (or after `msg_timeout` s); measured after `warmup` s.
    """
    room = f"{ctx.room_prefix}fanout"
    conns = await ctx.open_members([(i, room) for i in range(subs + 1)])
    pub = next((c for c in conns if c.index == 0), None)
    members = [c for c in conns if c.index != 0]
    if pub is None or not members:
        close_all(conns)
        return {
            "error": "publisher or subscribers failed to join",
            "joined": len(conns),
        }
    n = len(members)
    d = Deliveries()
    for c in members:
        c.on_text = d.handler
    # the publisher's own echo is not counted; its other frames (errors) are
    pub.on_text = lambda c, p, t: parse_chat(p, d.log)
    cpu = CpuWindow(ctx.server_pid)
    loop = asyncio.get_running_loop()
    sent = 0

    def send(seq: int) -> None:
        nonlocal sent
        pub.send(chat_frame(room, seq, 0))
        sent += 1

    if not saturate:
        d.measuring = True
        rx0 = WSConn.rx_bytes
        cpu.start(loop.time())
        await pace(rate, duration, send)
        t_send_end, in_send_window = loop.time(), d.in_window
        await wait_until(lambda: d.received >= sent * n, drain, 3.0, lambda: d.last_rx)
        cpu.stop(loop.time())
        rx = WSConn.rx_bytes - rx0
        dps = in_send_window / duration
        extra = {
            "mode": "rate",
            "rate": rate,
            "offered_per_s": rate * n,
            "drain_s": round(loop.time() - t_send_end, 2),
        }
    else:
        pending: dict[int, list] = {}  # seq -> [remaining, sent_at]
        running = True
        timeouts = 0

        def next_msg() -> None:
            seq = sent
            pending[seq] = [n, loop.time()]
            send(seq)

        def on_seq(seq: int) -> None:
            rec = pending.get(seq)
            if rec is not None:
                rec[0] -= 1
                if rec[0] == 0:
                    del pending[seq]
                    if running:
                        next_msg()

        async def reaper() -> None:  # unstick the window when deliveries are lost
            nonlocal timeouts
            while running:
                await asyncio.sleep(0.25)
                old = [
                    s for s, r in pending.items() if loop.time() - r[1] > msg_timeout
                ]
                for s in old:
                    del pending[s]
                    timeouts += 1
                    if running:
                        next_msg()

        d.on_seq = on_seq
        reap = asyncio.create_task(reaper())
        for _ in range(window):
            next_msg()
        await asyncio.sleep(warmup)
        d.measuring = True
        rx0 = WSConn.rx_bytes
        cpu.start(loop.time())
        await asyncio.sleep(duration)
        d.measuring = False
        cpu.stop(loop.time())
        rx = WSConn.rx_bytes - rx0
        running = False
        dps = d.in_window / cpu.wall
        await wait_until(lambda: not pending, drain, 3.0, lambda: d.last_rx)
        reap.cancel()
        extra = {
            "mode": "saturate",
            "window": window,
            "msg_timeout_s": msg_timeout,
            "timed_out_msgs": timeouts,
        }
    closes = close_all(conns)
    deliveries = d.in_window if saturate else d.received
    return {
        "subscribers": n,
        "sent": sent,
        "expected": sent * n,
        "received": d.received,
        "lost": sent * n - d.received,
        "loss_pct": round(100 * (sent * n - d.received) / max(1, sent * n), 2),
        "deliveries_per_s": round(dps, 1),
        # Bytes the sockets read per delivery (frame headers, and the other
        # frames of the window, included): the wire size with or without deflate.
        "wire_bytes_per_delivery": round(rx / max(1, deliveries), 1),
        **d.hist.summary(),
        **cpu.report(deliveries),
        **extra,
        **d.log.report(),
        **closes,
    }


async def rooms(
    ctx: Ctx, rooms=100, members=5, rate=1.0, duration=10.0, drain=10.0
) -> dict:
    """`rooms` rooms x `members`; every member sends `rate` msgs/s (random phase); every
    member, the sender included, should receive every chat of its room."""
    specs = [
        (i, f"{ctx.room_prefix}room-{i // members}") for i in range(rooms * members)
    ]
    conns = await ctx.open_members(specs)
    size: dict[str, int] = {}
    for c in conns:
        size[specs[c.index][1]] = size.get(specs[c.index][1], 0) + 1
    d = Deliveries()
    for c in conns:
        c.on_text = d.handler
    expected = 0
    loop = asyncio.get_running_loop()

    async def member(c: WSConn) -> int:
        nonlocal expected
        room = specs[c.index][1]

        def send(seq: int) -> None:
            nonlocal expected
            c.send(chat_frame(room, seq, c.index))
            expected += size[room]

        return await pace(rate, duration, send, phase=random.random() / rate)

    cpu = CpuWindow(ctx.server_pid)
    d.measuring = True
    cpu.start(loop.time())
    sent = sum(await asyncio.gather(*(member(c) for c in conns)))
    in_send_window = d.received
    await wait_until(lambda: d.received >= expected, drain, 3.0, lambda: d.last_rx)
    cpu.stop(loop.time())
    closes = close_all(conns)
    return {
        "rooms": len(size),
        "members_joined": len(conns),
        "sent": sent,
        "expected": expected,
        "received": d.received,
        "lost": expected - d.received,
        "loss_pct": round(100 * (expected - d.received) / max(1, expected), 2),
        "deliveries_per_s": round(in_send_window / duration, 1),
        **d.hist.summary(),
        **cpu.report(d.received),
        **d.log.report(),
        **closes,
    }


# -- joins: connect + auth + join, everyone at once (a restart) ----------------------
async def joins(ctx: Ctx, conns=2000, room_size=20, inflight=None) -> dict:
    """`conns` users connect, authenticate and join (rooms of `room_size`) all at once,
    as after a server restart, at most `inflight` (default: the batch) handshakes in
    flight. One join = TCP connect to its `room_state`. Wall time is first connect to
    last room_state; CPU is the server's over that window."""
    inflight = inflight or ctx.batch
    warm = await ctx.open_members([(conns, f"{ctx.room_prefix}joins-warmup")])
    close_all(warm)
    await asyncio.sleep(0.5)
    loop = asyncio.get_running_loop()
    hist = Histogram()
    gate = asyncio.Semaphore(inflight)
    opened: list[WSConn] = []
    t = ctx.step_timeout

    async def one(index: int, room: str) -> None:
        async with gate:
            t0, step, conn = now_ns(), "connect", None
            try:
                conn = await connect(ctx.host, ctx.port, ctx.path(index), index, t)
                step = "auth_success"
                await conn.expect("auth_success", timeout=t)
                step = "room_state"
                join = {
                    "type": "join_room",
                    "data": {"roomId": room, "roomType": ROOM_TYPE},
                }
                await conn.expect("room_state", timeout=t, send=join)
            except (TimeoutError, OSError, RuntimeError) as e:
                if conn is not None:
                    conn.close()
                ctx.failures[f"{step}: {type(e).__name__} {str(e)[:150]}"] += 1
                return
            hist.add_us((now_ns() - t0) // 1000)
            opened.append(conn)

    cpu = CpuWindow(ctx.server_pid)
    cpu.start(loop.time())
    await asyncio.gather(
        *(one(i, f"{ctx.room_prefix}joins-{i // room_size}") for i in range(conns))
    )
    cpu.stop(loop.time())
    closes = close_all(opened)
    n = len(opened)
    return {
        "requested": conns,
        "joined": n,
        "failed": conns - n,
        "inflight": inflight,
        "wall_s": round(cpu.wall, 3),
        "joins_per_s": round(n / cpu.wall, 1) if cpu.wall else None,
        "server_cpu_ms": round(1000 * cpu.server, 1) if ctx.server_pid else None,
        **hist.summary(),
        **cpu.report(n, per="join"),
        **closes,
    }


async def live(
    ctx: Ctx,
    viewers=5000,
    senders=5,
    rate=20.0,
    duration=10.0,
    drain=10.0,
    sample_rate=0.0,
) -> dict:
    """One live_stream room of `viewers`; `senders` of them (not the first, who
    makes the room and is its host) send danmaku at `rate`/s in total.

    Every viewer, the senders included, should get every chat, unless the server
    samples (`sample_rate` > 0: the per-room rate it was set up with): then a
    chat some viewer got is *admitted* and every viewer should have it, a chat no
    viewer but its sender got is *sampled out*, and each sender must still get
    every own echo. Lost = admitted deliveries missing + echoes missing.
    """
    room = f"{ctx.room_prefix}live"
    host = await ctx.open_members([(0, room)])  # makes the room: its owner
    rest = await ctx.open_members([(i, room) for i in range(1, viewers)])
    conns = host + rest
    talkers = [c for c in conns if 1 <= c.index <= senders]
    if not talkers or len(conns) < 2:
        close_all(conns)
        return {"error": "senders or viewers failed to join", "joined": len(conns)}
    n = len(conns)
    hist, log = Histogram(), FrameLog()
    got: dict[tuple[int, int], int] = {}  # (publisher, seq) -> other viewers with it
    echoes: dict[int, int] = {c.index: 0 for c in talkers}
    state = {"received": 0, "in_window": 0, "measuring": True, "last_rx": now_ns()}

    def handler(conn: WSConn, payload: bytes, now: int) -> None:
        parsed = parse_chat(payload, log)
        if parsed is None:
            return
        sent_ns, seq, pub = parsed
        state["received"] += 1
        state["last_rx"] = now
        if state["measuring"]:
            state["in_window"] += 1
        hist.add_us((now - sent_ns) // 1000)
        if pub == conn.index:
            echoes[pub] += 1
        else:
            key = (pub, seq)
            got[key] = got.get(key, 0) + 1

    for c in conns:
        c.on_text = handler
    loop = asyncio.get_running_loop()
    per_sender = rate / len(talkers)
    sent = 0

    async def talker(c: WSConn) -> int:
        def send(seq: int) -> None:
            nonlocal sent
            c.send(chat_frame(room, seq, c.index))
            sent += 1

        return await pace(per_sender, duration, send, phase=random.random() / rate)

    cpu = CpuWindow(ctx.server_pid)
    cpu.start(loop.time())
    await asyncio.gather(*(talker(c) for c in talkers))
    state["measuring"] = False
    t_send_end = loop.time()

    def settled() -> bool:
        if sum(echoes.values()) < sent:
            return False
        return all(v >= n - 1 for v in got.values()) and (
            sample_rate > 0 or len(got) >= sent
        )

    await wait_until(settled, drain, 3.0, lambda: state["last_rx"])
    cpu.stop(loop.time())
    closes = close_all(conns)
    admitted = len(got)
    sampled_out = sent - admitted if sample_rate > 0 else 0
    missing_admitted = sum(n - 1 - v for v in got.values())
    if sample_rate <= 0:
        missing_admitted += (sent - admitted) * (n - 1)  # none got it: lost
    echo_missing = sent - sum(echoes.values())
    lost = missing_admitted + echo_missing
    offered = sent * n
    return {
        "viewers": n,
        "senders": len(talkers),
        "rate": rate,
        "sample_rate": sample_rate,
        "sent": sent,
        "offered_per_s": round(offered / duration, 1),
        "expected": offered - sampled_out * (n - 1),
        "received": state["received"],
        "deliveries_per_s": round(state["in_window"] / duration, 1),
        "admitted": admitted,
        "sampled_out": sampled_out,
        "per_viewer_per_s": round(admitted / duration, 2),
        "echo_missing": echo_missing,
        "lost": lost,
        "loss_pct": round(100 * lost / max(1, offered), 2),
        "drain_s": round(loop.time() - t_send_end, 2),
        **hist.summary(),
        **cpu.report(state["received"]),
        **log.report(),
        **closes,
    }
