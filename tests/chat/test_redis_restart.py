"""A Redis restart empties groups and presence while sockets stay open: the hub's
refresh brings both back, for either channel-layer backend. Uses a private
redis-server it can stop; never the shared one."""

import shutil
import socket
import subprocess
import time

import pytest
import pytest_asyncio
import redis

from chat.models import Room, RoomType
from chat.presence import get_presence
from tests import ws

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
]

BACKENDS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}


class PrivateRedis:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "private redis did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture(params=sorted(BACKENDS))
async def layer_on_private_redis(request, private_redis, settings):
    settings.REDIS_URL = private_redis.url
    settings.WS_GROUP_REFRESH_SECONDS = 0.3
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": BACKENDS[request.param],
            "CONFIG": {
                "hosts": [{"address": private_redis.url, "socket_timeout": None}],
                "prefix": "restart",
            },
        }
    }
    return private_redis


async def test_chat_and_presence_survive_a_redis_restart(
    layer_on_private_redis, connect_ready, alice, bob, token_for
):
    redis_server = layer_on_private_redis
    room = await Room.objects.acreate(
        room_id="restart", room_type=RoomType.CULTURAL_CIRCLE
    )
    a = await connect_ready(token=token_for(alice))
    b = await connect_ready(token=token_for(bob))
    await ws.join(a, "restart", "cultural_circle")
    await ws.join(b, "restart", "cultural_circle")
    key = f"room.{room.pk}"
    assert await get_presence().count(key) == 2

    redis_server.stop()
    redis_server.start()  # same port, empty
    assert await get_presence().count(key) == 0

    # Probe until a chat flows again (a timed-out receive would cancel the app,
    # so look before reading).
    deadline = time.monotonic() + 15
    n, arrived = 0, False
    while not arrived:
        assert time.monotonic() < deadline, "chat did not flow again after restart"
        n += 1
        await ws.send(
            b, {"type": "chat", "data": {"roomId": "restart", "message": f"p{n}"}}
        )
        while not await a.receive_nothing(0.5):
            frame = await ws.recv(a)
            arrived = arrived or frame["type"] == "chat"
    assert await get_presence().count(key) == 2
