"""Connection-bound scenarios: idle sockets (server memory) and persist (chats the
server stores and echoes, closed loop per sender)."""

from __future__ import annotations

import asyncio

from lgcore import Ctx, FrameLog, chat_frame, close_all, parse_chat, ping
from metrics import CpuWindow, Histogram, tree_rss_kib
from wsclient import WSConn


async def idle(ctx: Ctx, conns=2000, room_size=20, hold=2.0) -> dict:
    """`conns` joined idle sockets (rooms of `room_size`); server RSS before/after."""
    pid = ctx.server_pid
    # warm-up: the first socket makes the server import and set up lazily loaded code
    # (consumers, channel layer, DB connection); keep that out of the per-socket figure
    warm = await ctx.open_members([(conns, f"{ctx.room_prefix}idle-warmup")])
    close_all(warm)
    await asyncio.sleep(0.5)
    before = tree_rss_kib(pid) if pid else None
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    specs = [(i, f"{ctx.room_prefix}idle-{i // room_size}") for i in range(conns)]
    open_ = await ctx.open_members(specs)
    ramp = loop.time() - t0
    await asyncio.sleep(hold)  # let the server settle (GC, buffers)
    after = tree_rss_kib(pid) if pid else None
    # all still alive? one ping each, bounded
    results = await asyncio.gather(
        *(c.expect("pong", timeout=ctx.step_timeout, send=ping()) for c in open_),
        return_exceptions=True,
    )
    pongs = sum(1 for r in results if not isinstance(r, BaseException))
    closes = close_all(open_)
    per = (after - before) / len(open_) if pid and open_ else None
    return {
        "requested": conns,
        "joined": len(open_),
        "alive_after_hold": pongs,
        "ramp_s": round(ramp, 2),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_conn": round(per, 1) if per is not None else None,
        **closes,
    }


async def persist(
    ctx: Ctx, senders=20, rooms=10, duration=10.0, msg_timeout=5.0
) -> dict:
    """`senders` users in `rooms` rooms, each sending its next chat as soon as it sees
    its own previous one echoed back (the server stored and broadcast it)."""
    specs = [(i, f"{ctx.room_prefix}persist-{i % rooms}") for i in range(senders)]
    conns = await ctx.open_members(specs)
    loop = asyncio.get_running_loop()
    hist, log = Histogram(), FrameLog()
    outstanding: dict[int, tuple[int, float]] = {}  # sender index -> (seq, sent_at)
    acked = timeouts = 0
    running = True
    by_index = {c.index: c for c in conns}

    def send(c: WSConn, seq: int) -> None:
        if running and not c.closed:
            outstanding[c.index] = (seq, loop.time())
            c.send(chat_frame(specs[c.index][1], seq, c.index))

    def handler(c: WSConn, payload: bytes, now: int) -> None:
        nonlocal acked
        n_err = log.n_errors
        got = parse_chat(payload, log)
        if got is None:
            if (
                log.n_errors > n_err and c.index in outstanding
            ):  # refused: rate_limited..
                seq = outstanding.pop(c.index)[0]
                loop.call_later(0.05, send, c, seq + 1)
            return
        sent_ns, seq, pub = got
        if pub == c.index and outstanding.get(pub, (None,))[0] == seq:
            del outstanding[pub]
            acked += 1
            hist.add_us((now - sent_ns) // 1000)
            send(c, seq + 1)

    async def reaper() -> None:
        nonlocal timeouts
        while running:
            await asyncio.sleep(0.25)
            for idx, (seq, at) in list(outstanding.items()):
                if loop.time() - at > msg_timeout:
                    timeouts += 1
                    send(by_index[idx], seq + 1)

    for c in conns:
        c.on_text = handler
    cpu = CpuWindow(ctx.server_pid)
    cpu.start(loop.time())
    for c in conns:
        send(c, 0)
    reap = asyncio.create_task(reaper())
    await asyncio.sleep(duration)
    running = False
    cpu.stop(loop.time())
    reap.cancel()
    closes = close_all(conns)
    return {
        "senders": len(conns),
        "rooms": rooms,
        "acked": acked,
        "messages_per_s": round(acked / cpu.wall, 1),
        "timeouts": timeouts,
        **hist.summary(),
        **cpu.report(acked, per="msg"),
        **log.report(),
        **closes,
    }
