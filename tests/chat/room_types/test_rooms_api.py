"""REST: one room with its live count, creating rooms, per-type rules."""

import pytest
from rest_framework.test import APIClient

from django.contrib.auth.models import Permission

from chat.models import Drama, Room, RoomMember, RoomType

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api():
    def client_for(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return client_for


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "room_type", ["live_stream", "cultural_circle", "drama_chat", "ai_assistant"]
)
async def test_room_detail_counts_who_is_in_it_under_asgi(
    route, http_get, alice, bob, room_type
):
    """The sync view reads the same presence store as the sockets."""
    if room_type == "drama_chat":
        drama = await Drama.objects.acreate(title="河洛传奇", owner=alice)
        room_id = f"drama-{drama.pk}"
    elif room_type == "ai_assistant":
        room_id = "ai-alice"  # named by the server from its owner (issue 12)
    else:
        room_id = "room-1"
        # Circles and (issue 12) live streams are opened by staff or hosts.
        await Room.objects.acreate(room_id=room_id, room_type=room_type)
    await route.open(alice, room_type, room_id)
    await route.open(alice, room_type, room_id)  # a second device counts once
    if room_type != "ai_assistant":
        await route.open(bob, room_type, room_id)
    status, body = await http_get(alice, f"/api/rooms/{room_id}/")
    assert status == 200, body
    assert body["roomId"] == room_id
    assert body["roomType"] == room_type
    assert body["onlineCount"] == (1 if room_type == "ai_assistant" else 2)
    assert body["isClosed"] is False


@pytest.mark.asyncio
async def test_room_detail_count_drops_when_people_leave(route, http_get, alice, bob):
    await Room.objects.acreate(room_id="c1", room_type=RoomType.CULTURAL_CIRCLE)
    await route.open(alice, "cultural_circle", "c1")
    b, _ = await route.open(bob, "cultural_circle", "c1")
    await route.leave(b)
    assert (await http_get(alice, "/api/rooms/c1/"))[1]["onlineCount"] == 1


def test_room_detail_shape(api, settings, alice):
    settings.ROOM_SLOW_MODE_SECONDS = {"live_stream": 3}
    Room.objects.create(
        room_id="live-1", room_type=RoomType.LIVE_STREAM, title="牡丹直播", owner=alice
    )
    body = api(alice).get("/api/rooms/live-1/").json()
    assert body == {
        "roomId": "live-1",
        "roomType": "live_stream",
        "title": "牡丹直播",
        "isClosed": False,
        "onlineCount": 0,
        "slowModeSeconds": 3.0,
        "ownerId": str(alice.pk),
        "dramaId": None,
    }


@pytest.mark.parametrize("path", ["ai-alice", "nowhere", "bad%20id"])
@pytest.mark.parametrize("suffix", ["", "messages/", "members/"])
def test_a_private_or_missing_room_is_404(api, alice, bob, path, suffix):
    Room.objects.create(room_id="ai-alice", room_type="ai_assistant", owner=alice)
    response = api(bob).get(f"/api/rooms/{path}/{suffix}")
    assert response.status_code == 404


def test_the_list_shows_ones_own_assistant_rooms_only(api, alice, bob):
    Room.objects.create(room_id="ai-alice", room_type="ai_assistant", owner=alice)
    Room.objects.create(room_id="ai-bob", room_type="ai_assistant", owner=bob)
    body = api(alice).get("/api/rooms/?type=ai_assistant").json()
    assert [r["roomId"] for r in body] == ["ai-alice"]


def test_anyone_creates_an_assistant_room_of_their_own(api, alice, bob):
    response = api(alice).post("/api/rooms/", {"roomType": "ai_assistant"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["roomId"].startswith("ai-")
    assert body["ownerId"] == str(alice.pk)
    assert api(bob).get(f"/api/rooms/{body['roomId']}/").status_code == 404
    assert api(alice).get(f"/api/rooms/{body['roomId']}/").status_code == 200


@pytest.mark.parametrize("room_type", ["cultural_circle", "live_stream"])
def test_standing_rooms_need_staff_or_the_add_room_permission(
    api, make_user, room_type
):
    plain, staff, permitted = make_user(), make_user(is_staff=True), make_user()
    permitted.user_permissions.add(Permission.objects.get(codename="add_room"))
    body = {"roomType": room_type, "title": "河洛"}
    assert api(plain).post("/api/rooms/", body).status_code == 403
    assert not Room.objects.exists()
    for i, user in enumerate((staff, permitted)):
        response = api(user).post("/api/rooms/", {**body, "roomId": f"r-{i}"})
        assert response.status_code == 201, response.content
        assert response.json()["title"] == "河洛"
        room = Room.objects.get(room_id=f"r-{i}")
        assert (room.room_type, room.owner_id) == (room_type, user.pk)
    members = RoomMember.objects.filter(room__room_id="r-0").count()
    assert members == (1 if room_type == "cultural_circle" else 0)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"roomType": "drama_chat", "roomId": "drama-1"}, 400),
        ({"roomType": "live_stream", "roomId": "drama-7"}, 400),
        ({"roomType": "live_stream", "roomId": "taken"}, 400),
        ({"roomType": "live_stream", "roomId": "has space"}, 400),
        ({"roomType": "nope"}, 400),
        ({}, 400),
    ],
)
def test_room_creation_refusals(api, make_user, body, status):
    Room.objects.create(room_id="taken", room_type=RoomType.CULTURAL_CIRCLE)
    response = api(make_user(is_staff=True)).post("/api/rooms/", body, format="json")
    assert response.status_code == status, response.content
    assert Room.objects.count() == 1
