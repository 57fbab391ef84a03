"""Helpers for talking to a socket in tests."""

import orjson
from channels.testing import WebsocketCommunicator

TIMEOUT = 3


async def recv(comm: WebsocketCommunicator, timeout: float = TIMEOUT) -> dict:
    """Return the next frame as JSON (fails on a close or a timeout)."""
    message = await comm.receive_output(timeout)
    assert message["type"] == "websocket.send", message
    return orjson.loads(message["text"])


async def recv_type(
    comm: WebsocketCommunicator,
    kind: str,
    timeout: float = TIMEOUT,
    skip: tuple[str, ...] = (),
) -> dict:
    """Return the next frame of type `kind`; only frames of a type in `skip` may
    come before it."""
    while True:
        frame = await recv(comm, timeout)
        if frame["type"] == kind:
            return frame
        assert frame["type"] in skip, f"expected {kind}, got {frame}"


async def send(comm: WebsocketCommunicator, frame: dict) -> None:
    await comm.send_to(text_data=orjson.dumps(frame).decode())


async def expect_close(comm: WebsocketCommunicator, timeout: float = TIMEOUT) -> int:
    """Read frames until the server closes; return the close code."""
    while True:
        message = await comm.receive_output(timeout)
        if message["type"] == "websocket.close":
            return message.get("code", 1000)


async def join(comm: WebsocketCommunicator, room_id: str, room_type: str) -> dict:
    """Join a room and return its room_state."""
    await send(
        comm, {"type": "join_room", "data": {"roomId": room_id, "roomType": room_type}}
    )
    return await recv_type(comm, "room_state")


async def nothing_more(comm: WebsocketCommunicator, timeout: float = 0.2) -> bool:
    return await comm.receive_nothing(timeout)


async def send_raw(
    comm: WebsocketCommunicator, text: str | None = None, data: bytes | None = None
) -> None:
    """Send a frame as is: text (possibly empty, possibly not JSON) or binary."""
    if text is not None:
        await comm.send_input({"type": "websocket.receive", "text": text})
    else:
        await comm.send_input({"type": "websocket.receive", "bytes": data})


async def next_close(comm: WebsocketCommunicator, timeout: float = TIMEOUT) -> int:
    """Return the close code; fails if any frame arrives before the close."""
    message = await comm.receive_output(timeout)
    assert message["type"] == "websocket.close", f"expected a close, got {message}"
    return message.get("code", 1000)


async def chat(
    comm: WebsocketCommunicator, room_id: str | None, message: str, **data
) -> None:
    """Send a chat (`roomId` left out when `room_id` is None)."""
    body = {"message": message, **data}
    if room_id is not None:
        body["roomId"] = room_id
    await send(comm, {"type": "chat", "data": body})


async def ping(comm: WebsocketCommunicator, request_id: str | None = None) -> dict:
    """Send a ping and return the pong (the socket still answers)."""
    frame: dict = {"type": "ping", "timestamp": 1640995200000}
    if request_id:
        frame["requestId"] = request_id
    await send(comm, frame)
    pong = await recv(comm)
    assert pong["type"] == "pong", pong
    return pong


# What the server may push by itself right after auth_success (the inbox catch-up).
AFTER_AUTH = ("notification", "notification_summary")


async def settle(
    comm: WebsocketCommunicator, skip: tuple[str, ...] = AFTER_AUTH
) -> list[dict]:
    """Read past what the server pushed since auth_success; return those frames.

    Sends a ping and reads up to its pong, so no timing is involved; only frames
    of a type in `skip` may come before the pong.
    """
    await send(comm, {"type": "ping", "requestId": "settle"})
    skipped = []
    while True:
        frame = await recv(comm)
        if frame["type"] == "pong" and frame.get("requestId") == "settle":
            return skipped
        assert frame["type"] in skip, f"unexpected {frame} before the pong"
        skipped.append(frame)
