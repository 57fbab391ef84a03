"""A Redis restart empties groups and presence while sockets stay open: the hub's
refresh brings both back, for either channel-layer backend. Uses a private
redis-server it can stop; never the shared one."""

import contextlib
import json
import shutil
import socket
import subprocess
import time

import pytest
import pytest_asyncio
import redis

from chat.models import Room, RoomType
from realtime import hub
from realtime.process import runtime
from realtime.topics import room_topic
from tests import ws

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
]

BACKENDS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "realtime.layers.PubSubChannelLayer",
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
                # The fault tests stall it with DEBUG SLEEP.
                "--enable-debug-command",
                "local",
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
    # Alice's own announcement first: sent later, it could reach Bob's socket
    # (same process, same room) ahead of his room_state.
    await ws.recv_type(a, "user_joined")
    await ws.join(b, "restart", "cultural_circle")
    key = f"room.{room.pk}"
    assert await runtime().presence.count(key) == 2

    redis_server.stop()
    redis_server.start()  # same port, empty
    assert await runtime().presence.count(key) == 0

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
    assert await runtime().presence.count(key) == 2


async def test_a_chat_batch_over_several_rooms_flows_again_after_a_restart(
    elsewhere, layer_on_private_redis, connect_ready, alice, token_for, settings
):
    """On the pub/sub layer a batch spanning rooms goes to the processes recorded
    as members (layers.PubSubChannelLayer.group_send_batch). A restart loses the
    records; the batch must flow again at once, not at the hub's next renewal
    (pushed out of reach here), through the rooms' own subscriptions. The core
    layer keeps groups in Redis itself: only the renewal brings them back."""
    if settings.CHANNEL_LAYERS["default"]["BACKEND"] == BACKENDS["pubsub"]:
        settings.WS_GROUP_REFRESH_SECONDS = 60
    redis_server = layer_on_private_redis
    rooms = [
        await Room.objects.acreate(
            room_id=f"batch-{n}", room_type=RoomType.CULTURAL_CIRCLE
        )
        for n in (1, 2)
    ]
    a = await connect_ready(token=token_for(alice))
    for room in rooms:
        await ws.join(a, room.room_id, "cultural_circle")
        await ws.recv_type(a, "user_joined")
    redis_server.stop()
    redis_server.start()

    deadline = time.monotonic() + 15
    seq, seen = 0, set()
    while seen != {"batch-1", "batch-2"}:
        assert time.monotonic() < deadline, f"only {seen} flowed again after restart"
        seq += 1
        with contextlib.suppress(redis.RedisError, OSError):  # still coming back
            await elsewhere.publish_in_order(
                [
                    (room_topic(room.pk), seq, [chat_text(room.room_id, seq)])
                    for room in rooms
                ]
            )
        while not await a.receive_nothing(0.5):
            frame = await ws.recv(a)
            if frame["type"] == "chat":
                seen.add(frame["data"]["roomId"])


@pytest_asyncio.fixture
async def elsewhere(layer_on_private_redis):
    """The hub of another server process, on the same layer."""
    other = hub.Hub()
    await other.start()
    yield other
    await other.stop()


def chat_text(room_id: str, seq: int) -> str:
    return json.dumps(
        {"type": "chat", "data": {"id": f"{seq:012d}-{seq}", "roomId": room_id}}
    )
