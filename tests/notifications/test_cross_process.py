"""Pushes cross server processes: a notification written here reaches sockets held
by a real server process (uvicorn on a free port) through Redis."""

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import connect as ws_connect

from django.conf import settings
from django.db import connection

from notifications import services
from tests import ws
from tests.notifications.helpers import in_db, settled

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict  # the test database, committed rows included
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def server(isolated_channel_layer):
    """A real server process on the test database and this test's Redis prefix."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CHANNEL_LAYER_PREFIX": isolated_channel_layer,
        "JWT_SIGNING_KEY": settings.SIMPLE_JWT["SIGNING_KEY"],
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "yyc3_realtime.asgi:application"]
        + ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        # as in production
        + ["--ws", "realtime.wsprotocol:WebSocketProtocol"]
        + ["--http", "realtime.httpprotocol:HTTPProtocol"],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "the server process exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not listen"
                time.sleep(0.05)
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        proc.terminate()
        proc.wait(10)


async def recv(sock, timeout: float = ws.TIMEOUT) -> dict:
    return orjson.loads(await asyncio.wait_for(sock.recv(), timeout))


async def test_pushes_reach_sockets_on_another_process(
    server, connect, alice, bob, token_for
):
    local = await connect(token=token_for(alice))
    await settled(local)
    async with (
        ws_connect(f"{server}?token={token_for(alice)}") as remote_alice,
        ws_connect(f"{server}?token={token_for(bob)}") as remote_bob,
    ):
        for sock in (remote_alice, remote_bob):
            assert (await recv(sock))["type"] == "auth_success"
            assert (await recv(sock))["type"] == "notification_summary"

        made = await in_db(
            services.notification_create,
            recipient_id=alice.pk,
            type="follow",
            title="新粉丝",
            content="-",
        )

        for got in (await recv(remote_alice), await ws.recv(local)):
            assert got["type"] == "notification"
            assert got["data"]["id"] == str(made.pk)
        with pytest.raises(TimeoutError):
            await recv(remote_bob, timeout=0.3)

        await in_db(services.announcement_create, title="全站公告", content="-")

        for got in (await recv(remote_alice), await recv(remote_bob)):
            assert (got["type"], got["data"]["title"]) == ("notification", "全站公告")
        assert (await ws.recv(local))["data"]["title"] == "全站公告"
