"""Moderation from the real admin views reaches connected sockets at once, by
every path (actions, change forms, list edits), and each leaves a log row.

The moderator is staff in the Moderators group, not a superuser.
"""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async

from django.utils import timezone

from chat.models import ChatMessage, ModerationLog, Room, Sanction
from tests import ws
from tests.chat.moderation.conftest import (
    CIRCLE,
    admin_get,
    admin_post,
    join,
    make_circle,
    message_pk,
    send_chat,
)
from tests.chat.test_protocol_frames import assert_frame, is_iso_z

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

MESSAGES = "/admin/chat/chatmessage/"
ROOMS = "/admin/chat/room/"
SANCTIONS = "/admin/chat/sanction/"


async def logged(action: str) -> list[ModerationLog]:
    return [e async for e in ModerationLog.objects.filter(action=action)]


async def in_circle(sockets, *users):
    """Each user's socket, in CIRCLE, past everyone's presence frames."""
    comms = []
    for user in users:
        comm = await sockets(user)
        await join(comm)
        comms.append(comm)
    for comm in comms:
        await ws.settle(comm, skip=("user_joined",))
    return comms


async def sanction_senders(admin_web, action: str, message_id: str, **form):
    """Run mute_senders/ban_senders: the form page first, then apply it."""
    selected = {"action": action, "_selected_action": [message_pk(message_id)]}
    page = await admin_post(admin_web, MESSAGES, selected)
    assert page.status_code == 200
    assert b"reason" in page.content
    data = {"scope": "room", "duration": "10m", "reason": "刷屏", **form}
    return await admin_post(admin_web, MESSAGES, {**selected, **data, "apply": "1"})


async def test_hide_action_removes_the_message_live_and_from_history(
    sockets, alice, bob, admin_web, moderator
):
    await make_circle()
    a, b = await in_circle(sockets, alice, bob)
    doomed = await send_chat(b, "剧透：结局是……")
    await ws.recv_type(a, "chat")

    response = await admin_post(
        admin_web,
        MESSAGES,
        {"action": "hide_messages", "_selected_action": [message_pk(doomed["id"])]},
    )

    assert response.status_code == 302
    for comm in (a, b):
        deleted = assert_frame(await ws.recv_type(comm, "message_deleted"))
        assert deleted["data"] == {"roomId": CIRCLE, "messageId": doomed["id"]}
    await ws.send(a, {"type": "history", "data": {"roomId": CIRCLE}})
    assert (await ws.recv_type(a, "history"))["data"]["messages"] == []
    (entry,) = await logged("message_hide")
    assert (entry.actor_id, entry.user_id, entry.target_type) == (
        moderator.pk,
        bob.pk,
        "chat.chatmessage",
    )
    assert (entry.before, entry.after) == ({"is_hidden": False}, {"is_hidden": True})


async def test_mute_senders_refuses_their_chats_with_until(
    sockets, alice, bob, admin_web
):
    await make_circle()
    a, b = await in_circle(sockets, alice, bob)
    loud = await send_chat(b, "刷屏")
    await ws.recv_type(a, "chat")

    response = await sanction_senders(admin_web, "mute_senders", loud["id"])

    assert response.status_code == 302
    await ws.chat(b, CIRCLE, "还能说话吗")
    refused = assert_frame(await ws.recv_type(b, "error"))
    assert refused["data"]["code"] == "muted"
    assert is_iso_z(refused["data"]["until"])
    sanction = await Sanction.objects.aget(user=bob)
    assert refused["data"]["until"].startswith(
        sanction.ends_at.strftime("%Y-%m-%dT%H:%M:%S")
    )
    assert (
        timedelta(minutes=9)
        < sanction.ends_at - timezone.now()
        <= timedelta(minutes=10)
    )
    # Alice still talks, and never saw the refused chat.
    assert (await send_chat(a, "我可以"))["message"] == "我可以"
    assert (await ws.recv_type(b, "chat"))["data"]["message"] == "我可以"
    (entry,) = await logged("mute")
    assert entry.reason == "刷屏" and entry.after["room"] == CIRCLE


async def test_ban_senders_closes_4003_and_refuses_until_lifted(
    sockets, connect, token_for, alice, bob, admin_web
):
    await make_circle()
    a, b = await in_circle(sockets, alice, bob)
    elsewhere = await sockets(bob)  # not in the room: stays open
    bad = await send_chat(b, "广告")
    await ws.recv_type(a, "chat")

    response = await sanction_senders(
        admin_web, "ban_senders", bad["id"], duration="1d"
    )

    assert response.status_code == 302
    assert await ws.expect_close(b) == 4003
    await ws.ping(elsewhere)
    await ws.ping(a)
    # Refused on join, and on the room's own route.
    await ws.send(elsewhere, {"type": "join_room", "data": {"roomId": CIRCLE}})
    assert (await ws.recv_type(elsewhere, "error"))["data"]["code"] == "forbidden"
    routed = await connect(f"/ws/cultural_circle/{CIRCLE}/", token=token_for(bob))
    refused = await ws.recv_type(routed, "error", skip=ws.AFTER_AUTH)
    assert refused["data"]["code"] == "forbidden"
    assert await ws.expect_close(routed) == 4404

    # Lifted (its end set to now): he is let in again.
    ban = await Sanction.objects.aget(user=bob, kind="ban")
    response = await admin_post(
        admin_web,
        SANCTIONS,
        {"action": "lift_sanctions", "_selected_action": [ban.pk]},
    )
    assert response.status_code == 302
    back = await sockets(bob)
    assert (await join(back))["data"]["roomId"] == CIRCLE
    assert [e.action for e in await logged("ban")] == ["ban"]
    (lift,) = await logged("sanction_lift")
    assert lift.before["endsAt"] is not None and lift.after["endsAt"] is not None


async def test_a_ban_that_ran_out_lets_the_user_back_without_any_job(
    sockets, alice, bob
):
    room = await make_circle()
    await Sanction.objects.acreate(
        kind="ban",
        user=bob,
        room=room,
        reason="r",
        ends_at=timezone.now() - timedelta(seconds=1),
    )
    b = await sockets(bob)
    assert (await join(b))["data"]["roomId"] == CIRCLE


async def test_a_site_wide_ban_closes_every_socket_of_the_user(
    sockets, connect, token_for, alice, bob, admin_web
):
    await make_circle()
    await make_circle("circle-other")
    a, b = await in_circle(sockets, alice, bob)
    idle = await sockets(bob)  # in no room at all
    bad = await send_chat(b, "广告")
    await ws.recv_type(a, "chat")

    response = await sanction_senders(
        admin_web, "ban_senders", bad["id"], scope="site", duration="forever"
    )

    assert response.status_code == 302
    assert await ws.expect_close(b) == 4003
    assert await ws.expect_close(idle) == 4003
    await ws.ping(a)
    # Refused at authentication until the ban ends (not only at each join).
    again = await connect(token=token_for(bob))
    refused = await ws.recv_type(again, "error", skip=("notification_summary",))
    assert refused["data"]["code"] == "forbidden"
    assert await ws.expect_close(again) == 4003
    sanction = await Sanction.objects.aget(user=bob)
    assert (sanction.room_id, sanction.ends_at) == (None, None)
    (entry,) = await logged("ban")
    assert entry.after == {
        "kind": "ban",
        "room": None,
        "endsAt": None,
        "reason": "刷屏",
    }


async def test_close_then_reopen_rooms(sockets, alice, admin_web):
    room = await make_circle()
    (a,) = await in_circle(sockets, alice)

    response = await admin_post(
        admin_web, ROOMS, {"action": "close_rooms", "_selected_action": [room.pk]}
    )

    assert response.status_code == 302
    closed = assert_frame(await ws.recv_type(a, "error"))
    assert (closed["data"]["code"], closed["data"]["roomId"]) == ("room_closed", CIRCLE)
    await ws.send(a, {"type": "join_room", "data": {"roomId": CIRCLE}})
    assert (await ws.recv_type(a, "error"))["data"]["code"] == "room_closed"

    response = await admin_post(
        admin_web, ROOMS, {"action": "reopen_rooms", "_selected_action": [room.pk]}
    )

    assert response.status_code == 302
    assert (await join(a))["data"]["roomId"] == CIRCLE
    assert [e.action async for e in ModerationLog.objects.order_by("pk")] == [
        "room_close",
        "room_reopen",
    ]


async def test_the_message_change_form_hides_with_the_same_live_effect(
    sockets, alice, bob, admin_web
):
    await make_circle()
    a, b = await in_circle(sockets, alice, bob)
    doomed = await send_chat(b, "不当言论")
    await ws.recv_type(a, "chat")
    url = f"{MESSAGES}{message_pk(doomed['id'])}/change/"

    # The text is not a field of the form: posting one changes nothing.
    response = await admin_post(
        admin_web, url, {"is_hidden": "on", "message": "rewritten", "_save": "1"}
    )

    assert response.status_code == 302, response.content[:2000]
    deleted = await ws.recv_type(a, "message_deleted")
    assert deleted["data"]["messageId"] == doomed["id"]
    stored = await ChatMessage.objects.aget(pk=message_pk(doomed["id"]))
    assert (stored.is_hidden, stored.message) == (True, "不当言论")
    assert len(await logged("message_hide")) == 1


async def test_the_room_change_form_closes_with_the_same_live_effect(
    sockets, alice, admin_web
):
    room = await make_circle()
    (a,) = await in_circle(sockets, alice)
    url = f"{ROOMS}{room.pk}/change/"
    page = await admin_get(admin_web, url)
    form = page.context["adminform"].form
    data = {
        name: "" if value is None else str(value)
        for name, value in form.initial.items()
        if name in form.fields
    }
    data.update(is_closed="on", slow_mode_seconds="3", _save="1")
    data.pop("owner")

    response = await admin_post(admin_web, url, data)

    assert response.status_code == 302, response.content[:3000]
    closed = await ws.recv_type(a, "error")
    assert closed["data"]["code"] == "room_closed"
    assert [e.action async for e in ModerationLog.objects.order_by("pk")] == [
        "room_slow_mode",
        "room_close",
    ]
    room = await Room.objects.aget(pk=room.pk)
    assert (room.is_closed, room.slow_mode_seconds) == (True, 3)


async def test_a_ban_added_in_the_sanction_form_closes_4003(
    sockets, alice, bob, admin_web, moderator
):
    room = await make_circle()
    a, b = await in_circle(sockets, alice, bob)

    response = await admin_post(
        admin_web,
        f"{SANCTIONS}add/",
        {
            "user": bob.pk,
            "room": room.pk,
            "kind": "ban",
            "ends_at_0": "",
            "ends_at_1": "",
            "reason": "骚扰",
            "_save": "1",
        },
    )

    assert response.status_code == 302, response.content[:3000]
    assert await ws.expect_close(b) == 4003
    await ws.ping(a)
    sanction = await Sanction.objects.aget(user=bob)
    assert (sanction.created_by_id, sanction.reason) == (moderator.pk, "骚扰")
    assert len(await logged("ban")) == 1


async def test_editing_a_mute_end_in_its_form_is_logged_and_applies(
    sockets, alice, bob, admin_web
):
    room = await make_circle()
    (b,) = await in_circle(sockets, bob)
    mute = await sync_to_async(Sanction.objects.create)(
        kind="mute",
        user=bob,
        room=room,
        reason="r",
        ends_at=timezone.now() + timedelta(hours=1),
    )
    await ws.chat(b, CIRCLE, "?")
    assert (await ws.recv_type(b, "error"))["data"]["code"] == "muted"
    past = timezone.now() - timedelta(minutes=1)

    response = await admin_post(
        admin_web,
        f"{SANCTIONS}{mute.pk}/change/",
        {
            "ends_at_0": past.strftime("%Y-%m-%d"),
            "ends_at_1": past.strftime("%H:%M:%S"),
            "reason": "提前解除",
            "_save": "1",
        },
    )

    assert response.status_code == 302, response.content[:3000]
    assert (await send_chat(b, "终于"))["message"] == "终于"
    (entry,) = await logged("sanction_change")
    assert entry.before["reason"] == "r" and entry.after["reason"] == "提前解除"


async def test_slow_mode_edited_in_the_room_list_is_logged(alice, admin_web):
    room = await make_circle()
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(room.pk),
        "form-0-slow_mode_seconds": "5",
        "_save": "Save",
    }

    response = await admin_post(admin_web, ROOMS, data)

    assert response.status_code == 302, response.content[:3000]
    (entry,) = await logged("room_slow_mode")
    assert (entry.before, entry.after) == (
        {"slow_mode_seconds": None},
        {"slow_mode_seconds": 5},
    )
