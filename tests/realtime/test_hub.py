"""The process hub: room chats reach sockets in id order; memberships heal."""

import asyncio

import pytest
import pytest_asyncio

from chat.models import Room, RoomType
from realtime import hub
from realtime.process import runtime
from realtime.topics import group_name, room_topic, user_topic
from tests import ws

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture
async def elsewhere():
    """The hub of another server process: what it publishes reaches this
    process only through the channel layer."""
    other = hub.Hub()
    await other.start()
    yield other
    await other.stop()


def chat_text(seq: int) -> str:
    return f'{{"type":"chat","data":{{"id":"{seq:012d}-{seq}","message":"m{seq}"}}}}'


@pytest_asyncio.fixture
async def room_socket(connect_ready, alice, token_for):
    room = await Room.objects.acreate(
        room_id="hub-1", room_type=RoomType.CULTURAL_CIRCLE
    )
    sock = await connect_ready(token=token_for(alice))
    await ws.join(sock, "hub-1", "cultural_circle")
    await ws.recv_type(sock, "user_joined")
    return room, sock


async def test_a_late_earlier_chat_is_delivered_first(elsewhere, room_socket, settings):
    settings.WS_ORDER_HOLD_SECONDS = 5
    room, sock = room_socket
    topic = room_topic(room.pk)
    await elsewhere.publish_in_order([(topic, 1, [chat_text(1)])])
    assert (await ws.recv(sock))["data"]["message"] == "m1"
    await elsewhere.publish_in_order([(topic, 3, [chat_text(3), chat_text(4)])])
    assert await ws.nothing_more(sock, 0.2)  # 3 waits for 2
    await elsewhere.publish_in_order([(topic, 2, [chat_text(2)])])
    got = [(await ws.recv(sock))["data"]["message"] for _ in range(3)]
    assert got == ["m2", "m3", "m4"]


async def test_a_lost_chat_holds_the_next_only_for_the_hold_time(
    elsewhere, room_socket, settings
):
    settings.WS_ORDER_HOLD_SECONDS = 0.1
    room, sock = room_socket
    topic = room_topic(room.pk)
    await elsewhere.publish_in_order([(topic, 1, [chat_text(1)])])
    await ws.recv(sock)
    await elsewhere.publish_in_order([(topic, 3, [chat_text(3)])])  # 2 never comes
    assert (await ws.recv(sock, timeout=2))["data"]["message"] == "m3"


async def test_user_topics_share_sharded_groups(settings):
    settings.WS_USER_GROUP_SHARDS = 8
    assert group_name(user_topic(3)) == group_name(user_topic(11))
    assert group_name(user_topic(3)) != group_name(user_topic(4))


async def test_a_user_push_reaches_only_that_user_in_a_shared_shard(
    elsewhere, connect_ready, amake_user, token_for, settings
):
    settings.WS_USER_GROUP_SHARDS = 1  # everyone in one group
    a, b = await amake_user("shard-a"), await amake_user("shard-b")
    sock_a = await connect_ready(token=token_for(a))
    sock_b = await connect_ready(token=token_for(b))
    await elsewhere.publish(user_topic(a.pk), '{"type":"notification","data":{}}')
    assert (await ws.recv(sock_a))["type"] == "notification"
    assert await ws.nothing_more(sock_b)


@pytest.mark.redis
async def test_presence_comes_back_after_redis_loses_it(room_socket):
    room, _ = room_socket
    presence = runtime().presence
    key = f"room.{room.pk}"
    assert await presence.count(key) == 1
    await presence.redis.delete(*presence._keys(key))  # what a Redis restart does
    assert await presence.count(key) == 0
    await presence.refresh()
    assert await presence.count(key) == 1


async def test_one_publish_carries_several_rooms_each_in_order(
    elsewhere, connect_ready, alice, token_for
):
    """A chat batch spanning rooms is one `publish_in_order` call (on Redis, one
    layer message per process: layers.PubSubChannelLayer.group_send_batch); every
    room's sockets get their own room's chats, in order, and nothing of the others'."""
    socks = {}
    for room_id in ("many-1", "many-2", "many-3"):
        room = await Room.objects.acreate(
            room_id=room_id, room_type=RoomType.CULTURAL_CIRCLE
        )
        sock = await connect_ready(token=token_for(alice))
        await ws.join(sock, room_id, "cultural_circle")
        await ws.recv_type(sock, "user_joined")
        socks[room.pk] = sock
    (a, sa), (b, sb), (c, sc) = socks.items()
    topic = room_topic
    await elsewhere.publish_in_order(
        [
            (topic(a), 1, [chat_text(1), chat_text(2)]),
            (topic(b), 1, [chat_text(1)]),
            (topic(c), 1, [chat_text(1)]),
            (topic(b), 2, [chat_text(2)]),
        ]
    )
    for sock, count in ((sa, 2), (sb, 2), (sc, 1)):
        got = [(await ws.recv(sock))["data"]["message"] for _ in range(count)]
        assert got == [f"m{i}" for i in range(1, count + 1)]
        assert await ws.nothing_more(sock)


class SlowGroupAddLayer:
    """A layer whose group_add takes a while, like a Redis round trip."""

    def __init__(self) -> None:
        self.added: list[str] = []
        self.release = asyncio.Event()

    async def group_add(self, group: str, channel: str) -> None:
        await self.release.wait()
        self.added.append(group)


def slow_hub() -> hub.Hub:
    """A started hub on a SlowGroupAddLayer."""
    the_hub = hub.Hub()
    the_hub.layer = SlowGroupAddLayer()
    the_hub._started = asyncio.get_running_loop().create_future()
    the_hub._started.set_result(None)
    the_hub.channel_name = "hub.test"
    return the_hub


async def test_a_second_subscriber_waits_for_the_groups_subscription_in_flight():
    """The caller reads room history right after subscribing; if the second
    socket of a room returned while the first one's group_add was still on its
    way, a chat published in between would reach neither its history nor it."""
    the_hub = slow_hub()
    first = asyncio.ensure_future(the_hub.subscribe("room.1", object()))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(the_hub.subscribe("room.1", object()))
    await asyncio.sleep(0.05)
    assert not first.done() and not second.done()
    the_hub.layer.release.set()
    await asyncio.wait_for(asyncio.gather(first, second), 1)
    assert the_hub.layer.added == ["hub.room.1"]  # one group_add for both
    third = asyncio.ensure_future(the_hub.subscribe("room.1", object()))
    await asyncio.wait_for(third, 1)  # nothing in flight: at once


async def test_a_cancelled_first_subscriber_does_not_cancel_the_others():
    """The socket that started the group's subscription may close meanwhile; the
    subscription must still complete for the sockets waiting on it."""
    the_hub = slow_hub()
    first = asyncio.ensure_future(the_hub.subscribe("room.1", object()))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(the_hub.subscribe("room.1", object()))
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0.01)
    assert not second.done()
    the_hub.layer.release.set()
    await asyncio.wait_for(second, 1)
    assert the_hub.layer.added == ["hub.room.1"]
    assert not the_hub._adding


async def test_a_failed_subscription_is_undone_and_tried_again_by_the_next():
    the_hub = slow_hub()
    layer = the_hub.layer
    layer.release.set()
    failing = [True]
    original = layer.group_add

    async def group_add(group, channel):
        if failing[0]:
            raise ConnectionError("redis is down")
        await original(group, channel)

    layer.group_add = group_add
    with pytest.raises(ConnectionError):
        await the_hub.subscribe("room.1", object())
    assert the_hub.groups == {} and the_hub.topics == {}
    failing[0] = False
    await asyncio.wait_for(the_hub.subscribe("room.1", object()), 1)
    assert layer.added == ["hub.room.1"] and the_hub.groups == {"hub.room.1": 1}


class HeldLayer:
    """A batching layer whose first send waits for `release`; records what
    went out, one list per layer message."""

    def __init__(self) -> None:
        self.sent: list[list[tuple[str, str]]] = []
        self.release = asyncio.Event()

    async def group_send(self, group: str, message: dict) -> None:
        await self.release.wait()
        self.sent.append([(group, message["text"])])

    async def group_send_batch(self, items: list[tuple[str, dict]], kind: str) -> None:
        assert kind == hub.BATCH
        self.sent.append([(group, message["text"]) for group, message in items])

    async def group_renew(self, groups: list[str], channel: str) -> None:
        return None


async def test_publishes_queued_during_a_layer_send_go_out_as_one_message():
    """A join storm publishes a user_joined per join: those queued while the
    previous layer send was on its way leave as one layer message, in publish
    order, instead of one round trip each."""
    the_hub = slow_hub()
    the_hub.layer = HeldLayer()
    the_hub.publish_soon("room.1", "a")
    await asyncio.sleep(0)  # the first send is on its way, held
    for topic, text in (("room.2", "b"), ("room.3", "c"), ("room.2", "d")):
        the_hub.publish_soon(topic, text)
    the_hub.layer.release.set()
    await asyncio.wait_for(the_hub.flush(), 1)
    assert the_hub.layer.sent == [
        [(group_name("room.1"), "a")],
        [
            (group_name("room.2"), "b"),
            (group_name("room.3"), "c"),
            (group_name("room.2"), "d"),
        ],
    ]


async def test_a_failed_batched_send_reports_each_publish():
    the_hub = slow_hub()
    the_hub.layer = HeldLayer()

    async def refuse(items, kind):
        raise ConnectionError("Redis is away")

    the_hub.layer.group_send_batch = refuse
    failures: list[str] = []
    the_hub.on_layer_failure = failures.append
    the_hub.publish_soon("room.1", "a")
    await asyncio.sleep(0)
    the_hub.publish_soon("room.2", "b")
    the_hub.publish_soon("room.3", "c")
    the_hub.layer.release.set()
    await asyncio.wait_for(the_hub.flush(), 1)
    assert failures == ["room.2", "room.3"]
    assert the_hub.layer.sent == [[(group_name("room.1"), "a")]]
