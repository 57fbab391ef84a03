"""Sockets and requests from a chosen client address (the ASGI scope's peer)."""

import contextlib

import pytest_asyncio
from channels.testing import WebsocketCommunicator

ATTACKER = "203.0.113.9"


@pytest_asyncio.fixture
async def sock_from():
    """Open a socket on the real application from `client` (a (host, port)
    pair); return (communicator, whether the handshake was accepted). Every
    socket is disconnected at teardown."""
    from yyc3_realtime.asgi import application

    opened: list[WebsocketCommunicator] = []

    async def open_socket(
        path: str = "/ws",
        token: str | None = None,
        *,
        client=(ATTACKER, 40000),
        headers=(),
        query: str = "",
    ):
        params = [p for p in (f"token={token}" if token else "", query) if p]
        url = path + ("?" + "&".join(params) if params else "")
        comm = WebsocketCommunicator(application, url, headers=list(headers))
        comm.scope["client"] = client
        opened.append(comm)
        connected, _ = await comm.connect(timeout=5)
        return comm, connected

    yield open_socket
    for comm in opened:
        with contextlib.suppress(Exception):
            await comm.disconnect(timeout=3)
