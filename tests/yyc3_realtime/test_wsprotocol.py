"""yyc3_realtime.wsprotocol: uvicorn's websockets-sansio protocol with less state.

The protocol runs in a real uvicorn server in this event loop, on a real socket;
the app is a bare ASGI echo so that only the protocol is under test. The whole
project runs on it in tests/test_server_process.py, which also shows its
backpressure: a client that stops reading is closed with 1013.
"""

import asyncio
import socket

import pytest
import pytest_asyncio
import uvicorn
from websockets.asyncio.client import connect

from yyc3_realtime.wsprotocol import Flag, ReceiveQueue, WebSocketProtocol

pytestmark = pytest.mark.asyncio


# --- Flag and ReceiveQueue: the parts of asyncio.Event / Queue uvicorn calls ------


async def test_flag_wait_returns_at_once_when_set_and_blocks_when_cleared():
    flag = Flag()
    assert flag.is_set()
    assert await asyncio.wait_for(flag.wait(), 1)
    flag.clear()
    waiter = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    flag.set()
    assert await asyncio.wait_for(waiter, 1)


async def test_a_cancelled_flag_waiter_is_forgotten():
    flag = Flag()
    flag.clear()
    waiter = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not flag._waiters
    flag.set()  # nothing left to wake, nothing raises


async def test_queue_hands_items_out_in_order_and_get_waits_for_a_put():
    queue = ReceiveQueue()
    assert queue.empty() and queue.qsize() == 0
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert queue.qsize() == 2
    assert [await queue.get(), await queue.get()] == [1, 2]
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    queue.put_nowait(3)
    assert await asyncio.wait_for(getter, 1) == 3
    assert queue.empty()


async def test_a_cancelled_get_loses_no_item():
    queue = ReceiveQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    queue.put_nowait("kept")
    assert await queue.get() == "kept"


# --- in a real uvicorn ------------------------------------------------------------


async def echo_app(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": event["text"].upper()})


@pytest_asyncio.fixture
async def server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        echo_app, port=port, ws=WebSocketProtocol, log_level="warning", lifespan="off"
    )
    running = uvicorn.Server(config)
    task = asyncio.ensure_future(running.serve())
    while not running.started:
        await asyncio.sleep(0.01)
    yield running, f"ws://127.0.0.1:{port}/"
    running.should_exit = True
    await asyncio.wait_for(task, 10)


async def test_messages_flow_both_ways(server):
    _, url = server
    async with connect(url) as client:
        for text in ("hello", "洛阳", "x" * 100_000):
            await client.send(text)
            assert await client.recv() == text.upper()


async def test_the_handshake_state_is_released_once_the_socket_is_open(server):
    running, url = server
    async with connect(url + "?token=secret") as client:
        await client.send("ping")
        assert await client.recv() == "PING"
        (protocol,) = running.server_state.connections
        assert isinstance(protocol, WebSocketProtocol)
        # What stock uvicorn keeps for the socket's life, 6-7 KiB of it.
        assert protocol.request is None and protocol.response is None
        assert protocol.scope == {}
        assert type(protocol.queue) is ReceiveQueue
        assert type(protocol.writable) is Flag
