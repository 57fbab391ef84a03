"""cultural_circle: standing communities, made beforehand, with a kept membership."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async

from django.contrib.auth.models import Permission
from django.utils import timezone

from chat.models import ChatMessage, Room, RoomMember, RoomType, Sanction
from tests import ws

pytestmark = pytest.mark.django_db(transaction=True)

CIRCLE = "circle-heluo"


@pytest.fixture
def circle(db):
    return Room.objects.create(
        room_id=CIRCLE, room_type=RoomType.CULTURAL_CIRCLE, title="河洛文化圈"
    )


@pytest.mark.asyncio
async def test_a_missing_circle_is_room_not_found_and_not_made(route, alice):
    error = await route.refused(alice, "cultural_circle", "circle-nowhere")
    assert error["code"] == "room_not_found"
    assert not await Room.objects.filter(room_id="circle-nowhere").aexists()


@pytest.mark.asyncio
async def test_members_chat_together(route, circle, alice, bob):
    a, state = await route.open(alice, "cultural_circle", CIRCLE)
    assert (state["roomType"], state["title"]) == ("cultural_circle", "河洛文化圈")
    assert (await ws.recv_type(a, "user_joined"))["data"]["userId"] == str(alice.pk)
    b, _ = await route.open(bob, "cultural_circle", CIRCLE)
    assert (await ws.recv_type(a, "user_joined"))["data"]["userName"] == "Bob"
    await route.chat(b, "你好")
    got = await ws.recv_type(a, "chat", skip=("user_joined",))
    assert got["data"]["senderId"] == str(bob.pk)


@pytest.mark.asyncio
async def test_membership_is_kept_after_leaving(route, circle, alice, bob, http_get):
    a, _ = await route.open(alice, "cultural_circle", CIRCLE)
    b, _ = await route.open(bob, "cultural_circle", CIRCLE)
    await route.leave(b)
    await route.leave(a)
    status, body = await http_get(alice, f"/api/rooms/{CIRCLE}/members/")
    assert status == 200
    assert body["count"] == 2
    assert [m["userId"] for m in body["members"]] == [str(alice.pk), str(bob.pk)]
    assert body["members"][1]["userName"] == "Bob"
    assert body["members"][0]["joinedAt"].endswith("Z")


def test_members_page_and_leave_out_the_banned(client, circle, make_user):
    users = [make_user() for _ in range(4)]
    for user in users:
        RoomMember.objects.create(room=circle, user=user)
    Sanction.objects.create(kind="ban", room=circle, user=users[1], reason="r")
    client.force_login(users[0])
    body = client.get(f"/api/rooms/{CIRCLE}/members/?limit=2&offset=1").json()
    assert body["count"] == 3
    assert [m["userId"] for m in body["members"]] == [
        str(users[2].pk),
        str(users[3].pk),
    ]


def test_only_circles_have_a_member_list(client, alice):
    Room.objects.create(room_id="live-1", room_type=RoomType.LIVE_STREAM)
    client.force_login(alice)
    assert client.get("/api/rooms/live-1/members/").status_code == 404
    assert client.get("/api/rooms/circle-nowhere/members/").status_code == 404


@pytest.mark.asyncio
async def test_history_is_kept_without_expiry(route, settings, circle, alice):
    settings.ROOM_HISTORY_RETENTION_HOURS = {"live_stream": 1}
    await ChatMessage.objects.acreate(
        room=circle,
        seq=1,
        sender=alice,
        sender_name="Alice",
        message="三年前",
        created_at=timezone.now() - timedelta(days=3 * 365),
    )
    comm, state = await route.open(alice, "cultural_circle", CIRCLE)
    assert [m["message"] for m in state["recent"]] == ["三年前"]


def _grant_add_room(user) -> None:
    user.user_permissions.add(Permission.objects.get(codename="add_room"))


@pytest.mark.asyncio
async def test_a_circle_made_by_a_permitted_user_can_be_joined(
    route, client, alice, bob
):
    await sync_to_async(_grant_add_room)(alice)
    await sync_to_async(client.force_login)(alice)
    response = await sync_to_async(client.post)(
        "/api/rooms/",
        {"roomType": "cultural_circle", "roomId": "circle-new", "title": "牡丹"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    _, state = await route.open(bob, "cultural_circle", "circle-new")
    assert state["title"] == "牡丹"
    members = await sync_to_async(list)(
        RoomMember.objects.filter(room__room_id="circle-new").values_list(
            "user_id", flat=True
        )
    )
    assert sorted(members) == sorted([alice.pk, bob.pk])
