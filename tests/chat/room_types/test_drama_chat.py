"""drama_chat: the room of an existing drama, with danmaku keyed to playback."""

import pytest

from chat.models import ChatMessage, Drama, Room, RoomType
from tests import ws

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def drama(alice):
    return Drama.objects.create(
        title="河洛传奇", owner=alice, status=Drama.Status.APPROVED, episode_count=12
    )


@pytest.mark.asyncio
async def test_the_room_of_a_drama_opens_on_first_join(route, drama, bob):
    _, state = await route.open(bob, "drama_chat", f"drama-{drama.pk}")
    assert state["roomType"] == "drama_chat"
    assert state["title"] == "河洛传奇"
    room = await Room.objects.aget(room_id=f"drama-{drama.pk}")
    assert room.drama_id == drama.pk


@pytest.mark.asyncio
@pytest.mark.parametrize("room_id", ["drama-999999", "drama-0", "drama-x", "heluo"])
async def test_no_such_drama_is_room_not_found(route, drama, bob, room_id):
    error = await route.refused(bob, "drama_chat", room_id)
    assert error["code"] == "room_not_found"
    assert not await Room.objects.filter(room_id=room_id).aexists()


@pytest.mark.asyncio
async def test_another_type_cannot_take_a_drama_room_id(route, drama, bob):
    """`drama-<pk>` is reserved: a live stream joined first must not squat it."""
    error = await route.refused(bob, "live_stream", f"drama-{drama.pk}")
    assert error["code"] == "room_not_found"
    _, state = await route.open(bob, "drama_chat", f"drama-{drama.pk}")
    assert state["roomType"] == "drama_chat"


@pytest.mark.asyncio
async def test_danmaku_carries_episode_and_position(route, drama, alice, bob):
    room_id = f"drama-{drama.pk}"
    a, _ = await route.open(alice, "drama_chat", room_id)
    b, _ = await route.open(bob, "drama_chat", room_id)
    await route.chat(b, "前方高能", episode=3, playbackMs=61_500)
    got = await ws.recv_type(a, "chat", skip=("user_joined",))
    assert got["data"]["episode"] == 3
    assert got["data"]["playbackMs"] == 61_500
    stored = await ChatMessage.objects.aget(room__room_id=room_id)
    assert (stored.episode, stored.playback_ms) == (3, 61_500)
    history = await route.history(a)
    assert history["data"]["messages"][0]["playbackMs"] == 61_500


@pytest.mark.asyncio
async def test_seek_replays_a_stretch_in_playback_order(route, drama, alice):
    comm, _ = await route.open(alice, "drama_chat", f"drama-{drama.pk}")
    # Sent out of playback order, over two episodes, plus a plain chat.
    sent = [(2, 9_000), (1, 4_000), (2, 1_500), (2, 4_000), (2, 30_000), (2, 4_000)]
    for i, (episode, ms) in enumerate(sent):
        await route.chat(comm, f"d{i}", episode=episode, playbackMs=ms)
        await ws.recv_type(comm, "chat", skip=("user_joined",))
    await route.chat(comm, "no anchor")
    await ws.recv_type(comm, "chat")

    seek = await route.history(comm, episode=2, fromMs=1_000, toMs=10_000)
    found = [(m["message"], m["playbackMs"]) for m in seek["data"]["messages"]]
    assert found == [("d2", 1_500), ("d3", 4_000), ("d5", 4_000), ("d0", 9_000)]
    assert seek["data"]["hasMore"] is False

    # Paging continues in playback order from the last message seen.
    page1 = await route.history(comm, episode=2, limit=2)
    assert [m["message"] for m in page1["data"]["messages"]] == ["d2", "d3"]
    assert page1["data"]["hasMore"] is True
    last = page1["data"]["messages"][-1]["id"]
    page2 = await route.history(comm, episode=2, limit=3, after=last)
    assert [m["message"] for m in page2["data"]["messages"]] == ["d5", "d0", "d4"]
    assert page2["data"]["hasMore"] is False


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "anchors", [{"episode": 1}, {"playbackMs": 5}, {"episode": 1, "playbackMs": -1}]
)
async def test_half_an_anchor_is_refused(route, drama, alice, anchors):
    comm, _ = await route.open(alice, "drama_chat", f"drama-{drama.pk}")
    await route.chat(comm, "hi", **anchors)
    error = await ws.recv_type(comm, "error", skip=("user_joined",))
    assert error["data"]["code"] == "invalid_message"
    assert not await ChatMessage.objects.aexists()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query", [{"fromMs": 0}, {"episode": 1, "before": "000000000009-9"}]
)
async def test_seek_needs_an_episode_and_no_before(route, drama, alice, query):
    comm, _ = await route.open(alice, "drama_chat", f"drama-{drama.pk}")
    answer = await route.history(comm, **query)
    assert answer["type"] == "error"
    assert answer["data"]["code"] == "invalid_message"


@pytest.mark.asyncio
async def test_other_room_types_take_no_anchors(route, alice):
    await Room.objects.acreate(room_id="circle-1", room_type=RoomType.CULTURAL_CIRCLE)
    comm, _ = await route.open(alice, "cultural_circle", "circle-1")
    await route.chat(comm, "hi", episode=1, playbackMs=5)
    error = await ws.recv_type(comm, "error", skip=("user_joined",))
    assert error["data"]["code"] == "invalid_message"


def test_seek_over_rest_is_one_history_query(
    client, drama, alice, django_assert_num_queries
):
    room = Room.objects.create(
        room_id=f"drama-{drama.pk}", room_type=RoomType.DRAMA_CHAT, drama=drama
    )
    for seq, ms in enumerate([7_000, 2_000, 5_000], start=1):
        ChatMessage.objects.create(
            room=room,
            seq=seq,
            sender=alice,
            sender_name="Alice",
            message=f"m{ms}",
            episode=1,
            playback_ms=ms,
        )
    client.force_login(alice)
    url = f"/api/rooms/{room.room_id}/messages/?episode=1&fromMs=1000&toMs=6000"
    # session + user, the room, the history page.
    with django_assert_num_queries(4):
        response = client.get(url)
    assert response.status_code == 200
    assert [m["message"] for m in response.json()["messages"]] == ["m2000", "m5000"]
