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
    """Return the next frame of type `kind`, skipping only frames whose type is in `skip`."""
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
