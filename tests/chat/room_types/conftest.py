"""Fixtures for the room-type tests: the same contract through both routes.

`route` is parametrized: "gateway" joins with `join_room` on `/ws`, "room" opens
`/ws/<roomType>/<roomId>/`. Tests take `route` and never branch on it themselves.
"""

from dataclasses import dataclass

import orjson
import pytest
from channels.testing import HttpCommunicator, WebsocketCommunicator

from tests import ws

# What the server may push by itself right after auth_success (the inbox catch-up).
AFTER_AUTH = ("notification", "notification_summary")
# The room-type route closes with this after refusing its room.
CLOSE_ROOM_REFUSED = 4404


async def answer_to(comm, request_id: str) -> dict:
    """Return the direct answer carrying `request_id`, past any room broadcasts."""
    while True:
        frame = await ws.recv(comm)
        if frame.get("requestId") == request_id:
            return frame


@dataclass
class Route:
    kind: str
    connect: object
    token_for: object

    async def open(
        self, user, room_type: str, room_id: str
    ) -> tuple[WebsocketCommunicator, dict]:
        """Return a socket of `user` in the room, and the room_state it got."""
        comm = await self._socket(user, room_type, room_id)
        if self.kind == "gateway":
            await ws.send(
                comm,
                {
                    "type": "join_room",
                    "data": {"roomId": room_id, "roomType": room_type},
                },
            )
        # The room's broadcasts may already come before room_state: the socket
        # subscribes before reading recent history, so that none is lost.
        state = await ws.recv_type(
            comm, "room_state", skip=(*AFTER_AUTH, "presence", "chat", "user_joined")
        )
        comm.room_id = room_id
        return comm, state["data"]

    async def refused(self, user, room_type: str, room_id: str) -> dict:
        """Try to enter the room; return the error data (the room route closes)."""
        comm = await self._socket(user, room_type, room_id)
        if self.kind == "gateway":
            await ws.send(
                comm,
                {
                    "type": "join_room",
                    "data": {"roomId": room_id, "roomType": room_type},
                },
            )
        error = await ws.recv_type(comm, "error", skip=AFTER_AUTH)
        if self.kind == "room":
            assert await ws.expect_close(comm) == CLOSE_ROOM_REFUSED
        return error["data"]

    async def _socket(self, user, room_type: str, room_id: str):
        path = "/ws" if self.kind == "gateway" else f"/ws/{room_type}/{room_id}/"
        return await self.connect(path, token=self.token_for(user))

    async def chat(self, comm, message: str, **data) -> None:
        """Send a chat to the socket's room (`roomId` left out on the room route)."""
        body = {"message": message, **data}
        if self.kind == "gateway":
            body["roomId"] = comm.room_id
        await ws.send(comm, {"type": "chat", "data": body})

    async def history(self, comm, **query) -> dict:
        body = dict(query)
        if self.kind == "gateway":
            body["roomId"] = comm.room_id
        await ws.send(comm, {"type": "history", "requestId": "h", "data": body})
        return await answer_to(comm, "h")

    async def leave(self, comm) -> None:
        """Leave the room and wait until the server has handled it."""
        if self.kind == "gateway":
            await ws.send(
                comm, {"type": "leave_room", "data": {"roomId": comm.room_id}}
            )
            await ws.send(comm, {"type": "ping", "requestId": "left"})
            await answer_to(comm, "left")
        else:
            await comm.disconnect()


@pytest.fixture(params=["gateway", "room"])
def route(request, connect, token_for) -> Route:
    return Route(request.param, connect, token_for)


@pytest.fixture
def http_get(token_for):
    """GET through the real ASGI application: `await http_get(user, path)`."""

    async def get(user, path: str) -> tuple[int, dict]:
        from yyc3_realtime.asgi import application

        comm = HttpCommunicator(
            application,
            "GET",
            path,
            headers=[
                (b"host", b"testserver"),
                (b"authorization", f"Bearer {token_for(user)}".encode()),
            ],
        )
        response = await comm.get_response(timeout=5)
        return response["status"], orjson.loads(response["body"] or b"null")

    return get
