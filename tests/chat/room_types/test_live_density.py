"""live_stream density: above a room's danmaku rate viewers get a sample, the
sender every own chat, and every chat is stored and in history.

A staff member's chat (never sampled) is the sentinel: a viewer's chats before it
are all the viewer got of the burst."""

import asyncio

import orjson
import pytest
from asgiref.sync import sync_to_async

from chat import services
from chat.models import ChatMessage, Room, RoomType
from realtime import hub
from realtime.topics import room_topic, user_topic
from tests import ws

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

LIVE = "live-dense"
BURST = 8
SKIP = ("user_joined", "user_left", "presence")


@pytest.fixture
def no_slow_mode(settings):
    settings.ROOM_SLOW_MODE_SECONDS = {"live_stream": 0}
    settings.LIVE_STREAM_PRESENCE_INTERVAL = 60
    settings.WS_MESSAGES_PER_SECOND = settings.WS_MESSAGES_BURST = 1000


async def chats_until(comm, last: str) -> list[str]:
    """Return the messages of the chats received up to the one saying `last`."""
    got: list[str] = []
    while not got or got[-1] != last:
        got.append((await ws.recv_type(comm, "chat", skip=SKIP))["data"]["message"])
    return got


async def in_room(route, alice, bob, carol) -> tuple:
    """Sockets of sender Alice, viewer Bob and staff Carol, in the room."""
    carol.is_staff = True
    await carol.asave()
    return tuple(
        [
            (await route.open(user, "live_stream", LIVE))[0]
            for user in (alice, bob, carol)
        ]
    )


async def burst(
    route, sockets, tag: str = "d", count: int = BURST, gap: float = 0
) -> tuple[list, list, list]:
    """Alice sends `count` chats, `gap` s apart, then Carol "end": return what
    Alice and Bob got, each up to "end", and what was sent."""
    a, b, c = sockets
    sent = [f"{tag}{i}" for i in range(count)]
    for text in sent:
        await route.chat(a, text)
        await asyncio.sleep(gap)
    mine = [(await ws.recv_type(a, "chat", skip=SKIP))["data"]["message"]]
    while len(mine) < count:  # Carol's "end" after Alice's chats are stored
        mine.append((await ws.recv_type(a, "chat", skip=SKIP))["data"]["message"])
    end = f"{tag}-end"
    await route.chat(c, end)
    return mine + await chats_until(a, end), await chats_until(b, end), sent


@pytest.mark.parametrize(("own", "site"), [(2, 0), (None, 2), (2, 100)])
async def test_above_the_rate_viewers_get_a_sample_the_sender_every_echo(
    route, settings, no_slow_mode, alice, bob, carol, own, site
):
    settings.LIVE_DANMAKU_RATE = site
    await Room.objects.acreate(
        room_id=LIVE, room_type=RoomType.LIVE_STREAM, danmaku_rate=own
    )
    sockets = await in_room(route, alice, bob, carol)
    mine, viewer, sent = await burst(route, sockets)
    assert mine == [*sent, "d-end"]
    sample = viewer[:-1]
    assert 0 < len(sample) < BURST
    assert sample == [m for m in sent if m in sample]  # in order, none invented
    stored = ChatMessage.objects.filter(room__room_id=LIVE).order_by("seq")
    assert [m.message async for m in stored] == [*sent, "d-end"]
    page = await route.history(sockets[1])
    assert [m["message"] for m in page["data"]["messages"]] == [*sent, "d-end"]


@pytest.mark.parametrize(("own", "site"), [(None, 0), (0, 2)])
async def test_off_everything_arrives(
    route, settings, no_slow_mode, alice, bob, carol, own, site
):
    settings.LIVE_DANMAKU_RATE = site
    await Room.objects.acreate(
        room_id=LIVE, room_type=RoomType.LIVE_STREAM, danmaku_rate=own
    )
    mine, viewer, sent = await burst(route, await in_room(route, alice, bob, carol))
    assert mine == viewer == [*sent, "d-end"]


async def test_below_the_rate_everything_arrives(
    route, no_slow_mode, alice, bob, carol
):
    await Room.objects.acreate(
        room_id=LIVE, room_type=RoomType.LIVE_STREAM, danmaku_rate=20
    )
    sockets = await in_room(route, alice, bob, carol)
    mine, viewer, sent = await burst(route, sockets, count=3, gap=0.1)
    assert mine == viewer == [*sent, "d-end"]


async def test_a_rate_set_in_admin_applies_to_open_sockets_at_once(
    route, no_slow_mode, alice, bob, carol
):
    room = await Room.objects.acreate(room_id=LIVE, room_type=RoomType.LIVE_STREAM)
    sockets = await in_room(route, alice, bob, carol)
    _, viewer, sent = await burst(route, sockets, "a")
    assert viewer == [*sent, "a-end"]
    set_rate = sync_to_async(services.room_danmaku_rate_set)
    assert await set_rate(room=room, rate=1)
    mine, viewer, sent = await burst(route, sockets, "b")
    assert mine == [*sent, "b-end"]
    assert len(viewer) < BURST + 1
    assert await set_rate(room=room, rate=0)
    _, viewer, sent = await burst(route, sockets, "c")
    assert viewer == [*sent, "c-end"]


def chat_text(seq: int, message: str) -> str:
    return orjson.dumps(
        {"type": "chat", "data": {"id": f"{seq:012d}-{seq}", "message": message}}
    ).decode()


async def test_chats_published_by_another_process_are_sampled_there_too(
    route, no_slow_mode, alice, bob
):
    room = await Room.objects.acreate(
        room_id=LIVE, room_type=RoomType.LIVE_STREAM, danmaku_rate=1
    )
    a, _ = await route.open(alice, "live_stream", LIVE)
    b, _ = await route.open(bob, "live_stream", LIVE)
    other = hub.Hub()  # another server process: reaches this one through the layer
    await other.start()
    try:
        topic, sent = room_topic(room.pk), [f"x{i}" for i in range(BURST)]
        texts = [chat_text(i + 1, m) for i, m in enumerate(sent)]
        await other.publish_in_order(
            [(topic, 1, texts), (topic, BURST + 1, [chat_text(BURST + 1, "end")])],
            senders=[[user_topic(alice.pk)] * BURST, [None]],
        )
        assert await chats_until(a, "end") == [*sent, "end"]
        assert len(await chats_until(b, "end")) < BURST + 1
    finally:
        await other.stop()
