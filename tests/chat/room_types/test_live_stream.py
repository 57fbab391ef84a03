"""live_stream: viewer counts, quiet big rooms, slow mode, danmaku retention."""

import asyncio
from datetime import timedelta
from io import StringIO

import pytest

from django.core.management import call_command
from django.utils import timezone

from chat import slow_mode
from chat.models import ChatMessage, Room, RoomType
from chat.selectors import room_presence_key
from realtime.process import runtime
from tests import ws

pytestmark = pytest.mark.django_db(transaction=True)

LIVE = "live-1"


@pytest.fixture
def live_room(transactional_db):
    """The stream's room, opened by its host: viewers cannot make one by joining
    (issue 12)."""
    return Room.objects.create(room_id=LIVE, room_type=RoomType.LIVE_STREAM)


@pytest.fixture
def quiet_counts(settings):
    """No `presence` frame within a test unless the test asks for them."""
    settings.LIVE_STREAM_PRESENCE_INTERVAL = 60


async def presence_frames(comm, until: int) -> list[int]:
    """Read frames until a `presence` with count `until`; return the counts seen."""
    counts = []
    while not counts or counts[-1] != until:
        frame = await ws.recv_type(comm, "presence", skip=("user_joined", "user_left"))
        counts.append(frame["data"]["onlineCount"])
    return counts


async def no_presence_for(comm, seconds: float) -> None:
    """Fail if a `presence` frame arrives within `seconds` (other frames pass)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        if await comm.receive_nothing(left):
            return
        frame = await ws.recv(comm)
        assert frame["type"] != "presence", frame


@pytest.mark.asyncio
async def test_room_state_counts_distinct_viewers(
    live_room, route, quiet_counts, alice, bob
):
    _, state = await route.open(alice, "live_stream", LIVE)
    assert state["roomType"] == "live_stream"
    assert state["onlineCount"] == 1
    _, state = await route.open(alice, "live_stream", LIVE)  # a second device
    assert state["onlineCount"] == 1
    _, state = await route.open(bob, "live_stream", LIVE)
    assert state["onlineCount"] == 2


@pytest.mark.asyncio
async def test_presence_is_coalesced(live_room, route, settings, amake_user, alice):
    settings.LIVE_STREAM_PRESENCE_INTERVAL = 0.3
    first, _ = await route.open(alice, "live_stream", LIVE)
    for _ in range(4):
        await route.open(await amake_user(), "live_stream", LIVE)
    counts = await presence_frames(first, until=5)
    # Four joins inside about one interval: one frame, two if a tick fell between.
    assert len(counts) <= 2, counts
    # Nothing changed since: no further frame.
    await no_presence_for(first, 0.5)


@pytest.mark.asyncio
async def test_presence_follows_leaves(live_room, route, settings, alice, bob):
    settings.LIVE_STREAM_PRESENCE_INTERVAL = 0.05
    a, _ = await route.open(alice, "live_stream", LIVE)
    b, _ = await route.open(bob, "live_stream", LIVE)
    assert (await presence_frames(a, until=2))[-1] == 2
    await route.leave(b)
    assert await presence_frames(a, until=1) == [1]


@pytest.mark.asyncio
async def test_the_count_comes_from_the_shared_presence_store(
    live_room, route, settings, alice
):
    """A viewer counted by another server process shows in this process's frames."""
    settings.LIVE_STREAM_PRESENCE_INTERVAL = 0.05
    a, _ = await route.open(alice, "live_stream", LIVE)
    room = await Room.objects.aget(room_id=LIVE)
    elsewhere = ("99999", "conn-on-another-process")
    await runtime().presence.join(room_presence_key(room.pk), *elsewhere)
    assert (await presence_frames(a, until=2))[-1] == 2
    await runtime().presence.leave(room_presence_key(room.pk), *elsewhere)
    assert (await presence_frames(a, until=1))[-1] == 1


@pytest.mark.asyncio
async def test_above_the_threshold_joins_and_leaves_are_not_broadcast(
    live_room, route, settings, quiet_counts, alice, bob, carol
):
    settings.LIVE_STREAM_PRESENCE_THRESHOLD = 2
    settings.ROOM_SLOW_MODE_SECONDS = {"live_stream": 0}
    a, _ = await route.open(alice, "live_stream", LIVE)
    assert (await ws.recv_type(a, "user_joined"))["data"]["userId"] == str(alice.pk)
    b, _ = await route.open(bob, "live_stream", LIVE)
    assert (await ws.recv_type(a, "user_joined"))["data"]["userId"] == str(bob.pk)
    c, state = await route.open(carol, "live_stream", LIVE)
    assert state["onlineCount"] == 3
    # Carol's chat is the next frame: no user_joined of hers came first.
    await route.chat(c, "hi")
    assert (await ws.recv(a))["type"] == "chat"
    await route.leave(c)
    await route.chat(b, "still here")
    assert (await ws.recv(a))["data"]["message"] == "still here"
    # Back at the threshold: Bob's leave is announced again.
    await route.leave(b)
    left = await ws.recv(a)
    assert left["type"] == "user_left" and left["data"]["userId"] == str(bob.pk)


@pytest.mark.asyncio
async def test_slow_mode_default_per_type(
    live_room, route, settings, quiet_counts, alice
):
    settings.ROOM_SLOW_MODE_SECONDS = {"live_stream": 30}
    comm, _ = await route.open(alice, "live_stream", LIVE)
    await route.chat(comm, "one")
    await ws.recv_type(comm, "chat", skip=("user_joined",))
    await route.chat(comm, "two")
    error = await ws.recv_type(comm, "error")
    assert error["data"]["code"] == "rate_limited"
    assert 29_000 < error["data"]["retryAfterMs"] <= 30_001
    assert await ChatMessage.objects.filter(message="two").acount() == 0


@pytest.mark.parametrize(("own", "limited"), [(0, False), (60, True)])
@pytest.mark.asyncio
async def test_a_rooms_own_slow_mode_wins(
    route, settings, quiet_counts, alice, own, limited
):
    settings.ROOM_SLOW_MODE_SECONDS = {"live_stream": 0 if limited else 30}
    await Room.objects.acreate(
        room_id=LIVE, room_type=RoomType.LIVE_STREAM, slow_mode_seconds=own
    )
    comm, _ = await route.open(alice, "live_stream", LIVE)
    await route.chat(comm, "one")
    await ws.recv_type(comm, "chat", skip=("user_joined",))
    await route.chat(comm, "two")
    frame = await ws.recv(comm)
    assert frame["type"] == ("error" if limited else "chat"), frame


@pytest.mark.asyncio
async def test_the_host_and_staff_are_not_slowed(
    route, settings, quiet_counts, alice, bob
):
    settings.ROOM_SLOW_MODE_SECONDS = {"live_stream": 30}
    bob.is_staff = True
    await bob.asave()
    await Room.objects.acreate(
        room_id=LIVE, room_type=RoomType.LIVE_STREAM, owner=alice
    )
    for user in (alice, bob):
        comm, _ = await route.open(user, "live_stream", LIVE)
        for text in ("one", "two"):
            await route.chat(comm, text)
            got = await ws.recv_type(comm, "chat", skip=("user_joined",))
            assert got["data"]["message"] == text


@pytest.mark.asyncio
async def test_a_slow_mode_change_in_admin_applies_to_open_sockets(
    live_room, route, settings, quiet_counts, monkeypatch, alice
):
    settings.ROOM_SLOW_MODE_SECONDS = {"live_stream": 0}
    comm, _ = await route.open(alice, "live_stream", LIVE)
    await route.chat(comm, "one")
    await ws.recv_type(comm, "chat", skip=("user_joined",))
    await Room.objects.filter(room_id=LIVE).aupdate(slow_mode_seconds=60)
    monkeypatch.setattr(slow_mode, "ROOM_SETTINGS_TTL", 0)  # instead of waiting
    await route.chat(comm, "two")
    await ws.recv_type(comm, "chat")
    await route.chat(comm, "three")
    assert (await ws.recv_type(comm, "error"))["data"]["code"] == "rate_limited"


@pytest.mark.asyncio
async def test_one_rooms_slow_mode_read_refreshes_the_other_rooms_too(
    live_room, route, settings, quiet_counts, monkeypatch, alice, bob
):
    """A process re-reads every room's setting that is past half its age in the
    query one room's chat makes: one database hop for many rooms."""
    settings.ROOM_SLOW_MODE_SECONDS = {"live_stream": 0}
    await Room.objects.acreate(room_id="live-2", room_type=RoomType.LIVE_STREAM)
    a, _ = await route.open(alice, "live_stream", LIVE)
    b, _ = await route.open(bob, "live_stream", "live-2")
    await Room.objects.filter(room_id="live-2").aupdate(slow_mode_seconds=60)
    monkeypatch.setattr(slow_mode, "ROOM_SETTINGS_TTL", 0)  # everything is stale
    await route.chat(a, "one")
    await ws.recv_type(a, "chat", skip=("user_joined",))
    monkeypatch.setattr(slow_mode, "ROOM_SETTINGS_TTL", 1000)  # nothing is
    await route.chat(b, "first")
    await ws.recv_type(b, "chat", skip=("user_joined",))
    await route.chat(b, "second")
    assert (await ws.recv_type(b, "error"))["data"]["code"] == "rate_limited"


def _message(room, seq: int, user, age: timedelta) -> ChatMessage:
    return ChatMessage.objects.create(
        room=room,
        seq=seq,
        sender=user,
        sender_name=user.username,
        message=f"m{seq}",
        created_at=timezone.now() - age,
    )


@pytest.mark.asyncio
async def test_expired_danmaku_is_not_served(route, settings, quiet_counts, alice):
    from asgiref.sync import sync_to_async

    settings.ROOM_HISTORY_RETENTION_HOURS = {"live_stream": 24}
    room = await Room.objects.acreate(room_id=LIVE, room_type=RoomType.LIVE_STREAM)
    await sync_to_async(_message)(room, 1, alice, timedelta(hours=25))
    await sync_to_async(_message)(room, 2, alice, timedelta(hours=23))
    comm, state = await route.open(alice, "live_stream", LIVE)
    assert [m["message"] for m in state["recent"]] == ["m2"]
    history = await route.history(comm)
    assert [m["message"] for m in history["data"]["messages"]] == ["m2"]


def test_purge_danmaku_deletes_only_expired_live_messages(settings, alice):
    settings.ROOM_HISTORY_RETENTION_HOURS = {"live_stream": 24}
    live = Room.objects.create(room_id=LIVE, room_type=RoomType.LIVE_STREAM)
    circle = Room.objects.create(room_id="c", room_type=RoomType.CULTURAL_CIRCLE)
    for seq in range(1, 6):
        _message(live, seq, alice, timedelta(hours=48))
    _message(live, 6, alice, timedelta(hours=1))
    _message(circle, 1, alice, timedelta(days=400))

    dry = StringIO()
    call_command("purge_danmaku", "--dry-run", stdout=dry)
    assert "live_stream: 5 message(s)" in dry.getvalue()
    assert ChatMessage.objects.count() == 7

    out = StringIO()
    call_command("purge_danmaku", "--batch-size", "2", stdout=out)
    assert "deleted 2/5" in out.getvalue() and "deleted 5/5" in out.getvalue()
    assert sorted(ChatMessage.objects.values_list("message", flat=True)) == [
        "m1",
        "m6",
    ]
    assert ChatMessage.objects.get(message="m1").room == circle
