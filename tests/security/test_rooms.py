"""Who may create what: joining never creates a room its user may not create
over REST; assistant rooms are named by the server; room lists are paginated;
every out-of-range REST parameter is a 400, never a 500."""

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from django.contrib.auth.models import Permission

from chat.models import Room, RoomType
from tests import ws

LIVE = "live-new"


def api_for(user, token_for) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


async def enter(connect, token: str, route: str, room_type: str, room_id: str):
    """Join by `join_room` on /ws, or open the room route; return the first
    answer (room_state or error)."""
    if route == "gateway":
        comm = await connect(token=token)
        data = {"roomId": room_id, "roomType": room_type}
        await ws.send(comm, {"type": "join_room", "data": data})
    else:
        comm = await connect(f"/ws/{room_type}/{room_id}/", token=token)
    while True:
        frame = await ws.recv(comm)
        if frame["type"] in ("room_state", "error"):
            return frame


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ["gateway", "room"])
async def test_joining_does_not_create_a_live_stream_for_a_non_host(
    connect, make_user, token_for, route
):
    """Issue 12: join_room with a new roomId and roomType live_stream created a
    room anyone could name, listed to everyone; REST refused the same."""
    viewer = await sync_to_async(make_user)()
    answer = await enter(connect, token_for(viewer), route, "live_stream", LIVE)
    assert answer["data"]["code"] == "room_not_found"
    assert not await Room.objects.filter(room_id=LIVE).aexists()
    host = await sync_to_async(make_user)()
    permission = await Permission.objects.aget(codename="add_room")
    await sync_to_async(host.user_permissions.add)(permission)
    answer = await enter(connect, token_for(host), route, "live_stream", LIVE)
    assert answer["type"] == "room_state"
    room = await Room.objects.aget(room_id=LIVE)
    assert (room.room_type, room.owner_id) == (RoomType.LIVE_STREAM, host.pk)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ["gateway", "room"])
async def test_an_assistant_room_cannot_be_squatted(
    connect, alice, bob, token_for, route
):
    """Issue 12: bob joining `ai-alice` first owned it, and alice got
    room_not_found from then on."""
    answer = await enter(connect, token_for(bob), route, "ai_assistant", "ai-alice")
    assert answer["data"]["code"] == "room_not_found"
    assert not await Room.objects.filter(room_id="ai-alice").aexists()
    answer = await enter(connect, token_for(alice), route, "ai_assistant", "ai-alice")
    assert answer["type"] == "room_state"
    assert (await Room.objects.aget(room_id="ai-alice")).owner_id == alice.pk


@pytest.mark.django_db
def test_rest_names_assistant_rooms_and_refuses_a_chosen_id(alice, bob, token_for):
    as_bob = api_for(bob, token_for)
    refused = as_bob.post(
        "/api/rooms/", {"roomType": "ai_assistant", "roomId": "ai-alice"}
    )
    assert refused.status_code == 400
    first = as_bob.post("/api/rooms/", {"roomType": "ai_assistant"}).json()
    second = as_bob.post("/api/rooms/", {"roomType": "ai_assistant"}).json()
    assert first["roomId"] == "ai-bob"
    assert second["roomId"].startswith(f"ai:{bob.pk}:")
    assert not Room.objects.filter(room_id="ai-alice").exists()


@pytest.mark.django_db
def test_other_room_types_cannot_take_assistant_ids(make_user, token_for):
    staff = api_for(make_user(is_staff=True), token_for)
    for room_id in ("ai-alice", "ai:1"):
        body = {"roomType": "cultural_circle", "roomId": room_id}
        assert staff.post("/api/rooms/", body).status_code == 400
    assert not Room.objects.exists()


@pytest.mark.django_db
def test_the_room_list_is_paginated(alice, token_for, settings):
    """Issue 12: the list was unpaginated (the first 500, silently)."""
    settings.ROOMS_MAX_PAGE_SIZE = 4
    Room.objects.bulk_create(
        Room(room_id=f"c-{i:02d}", room_type=RoomType.CULTURAL_CIRCLE)
        for i in range(10)
    )
    client = api_for(alice, token_for)
    page = client.get("/api/rooms/?limit=100")
    assert [r["roomId"] for r in page.json()] == ["c-00", "c-01", "c-02", "c-03"]
    assert page["X-Total-Count"] == "10"
    assert "offset=4" in page["Link"] and 'rel="next"' in page["Link"]
    last = client.get("/api/rooms/?offset=8&limit=4")
    assert [r["roomId"] for r in last.json()] == ["c-08", "c-09"]
    assert "Link" not in last


HUGE = "99999999999999999999"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        f"/api/rooms/c1/members/?offset={HUGE}",
        f"/api/rooms/c1/members/?limit={HUGE}",
        "/api/rooms/c1/members/?offset=-1",
        f"/api/rooms/?offset={HUGE}",
        f"/api/rooms/?limit={HUGE}",
        "/api/rooms/?limit=0",
        "/api/rooms/?type=nope",
        f"/api/rooms/c1/messages/?limit={HUGE}",
        f"/api/rooms/c1/messages/?episode={HUGE}",
        "/api/rooms/c1/messages/?episode=2147483648",
        f"/api/rooms/c1/messages/?episode=1&fromMs={HUGE}",
        f"/api/rooms/c1/messages/?episode=1&toMs={HUGE}",
        f"/api/rooms/c1/messages/?before={HUGE}",
        f"/api/rooms/c1/messages/?after={HUGE}-{HUGE}",
    ],
)
def test_out_of_range_rest_parameters_are_400(alice, token_for, path):
    """Issue 11: `?offset=99999999999999999999` was an HTTP 500."""
    Room.objects.create(room_id="c1", room_type=RoomType.CULTURAL_CIRCLE)
    response = api_for(alice, token_for).get(path)
    assert response.status_code == 400, response.content
