"""The moderator's live room page: who is in the room now (from presence), its
recent messages with hide/mute/ban, slow mode, close/reopen; and the assistant's
streamed reply stored through the same word filter."""

import pytest
from asgiref.sync import sync_to_async

from chat import services
from chat.ai.offline import compose_answer
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

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def live_url(room: Room) -> str:
    return f"/admin/chat/room/{room.pk}/live/"


async def test_the_page_shows_who_is_in_the_room_and_its_messages(
    sockets, alice, bob, admin_web
):
    room = await make_circle()
    a, b = await sockets(alice), await sockets(bob)
    for comm in (a, b):
        await join(comm)
    await send_chat(a, "大家好")

    page = await admin_get(admin_web, live_url(room))

    assert page.status_code == 200
    body = page.content.decode()
    assert page.context["online"] == 2
    assert "2 user(s)" in body and "大家好" in body
    # Who, by name, each a link to the user's admin page.
    assert [u.username for u in page.context["online_users"]] == ["alice", "bob"]
    assert f"/admin/auth/user/{alice.pk}/change/" in body
    assert "setTimeout(refresh" in body  # refreshes itself, no external script
    assert "<script src" not in body.split('id="content-main"')[1]
    region = await admin_get(admin_web, live_url(room), partial="1")
    assert b"<html" not in region.content and "大家好" in region.content.decode()


async def test_hide_mute_and_ban_from_the_page(sockets, alice, bob, admin_web):
    room = await make_circle()
    a, b = await sockets(alice), await sockets(bob)
    for comm in (a, b):
        await join(comm)
    await ws.settle(a, skip=("user_joined",))
    first = await send_chat(b, "第一条")
    second = await send_chat(b, "第二条")
    url = live_url(room)

    await admin_post(admin_web, url, {"hide": message_pk(first["id"]), "reason": ""})
    deleted = await ws.recv_type(a, "message_deleted", skip=("chat",))
    assert deleted["data"]["messageId"] == first["id"]

    refused = await admin_post(
        admin_web, url, {"mute": message_pk(second["id"]), "duration": "1h"}
    )
    assert refused.status_code == 302
    assert not await Sanction.objects.aexists()  # a mute needs a reason

    await admin_post(
        admin_web,
        url,
        {"mute": message_pk(second["id"]), "duration": "1h", "reason": "刷屏"},
    )
    await ws.chat(b, CIRCLE, "还在吗")
    muted = await ws.recv_type(b, "error", skip=("chat", "message_deleted"))
    assert muted["data"]["code"] == "muted" and muted["data"]["until"]

    await admin_post(
        admin_web,
        url,
        {"ban": message_pk(second["id"]), "duration": "forever", "reason": "辱骂"},
    )
    assert await ws.expect_close(b) == 4003
    assert [e.action async for e in ModerationLog.objects.order_by("pk")] == [
        "message_hide",
        "mute",
        "ban",
    ]


async def test_slow_mode_close_and_reopen_from_the_page(sockets, alice, admin_web):
    room = await make_circle()
    a = await sockets(alice)
    await join(a)
    url = live_url(room)

    await admin_post(admin_web, url, {"slow_mode": "1", "slow_mode_seconds": "7"})
    await admin_post(admin_web, url, {"close": "1", "reason": "维护"})
    closed = await ws.recv_type(a, "error", skip=("user_joined",))
    assert closed["data"]["code"] == "room_closed"
    await admin_post(admin_web, url, {"reopen": "1"})

    assert (await join(a))["data"]["roomId"] == CIRCLE
    room = await Room.objects.aget(pk=room.pk)
    assert (room.slow_mode_seconds, room.is_closed) == (7, False)
    assert [e.action async for e in ModerationLog.objects.order_by("pk")] == [
        "room_slow_mode",
        "room_close",
        "room_reopen",
    ]


async def test_the_assistants_streamed_reply_is_stored_masked(
    connect, token_for, alice, settings, moderator
):
    settings.AI_BACKEND = "offline"
    settings.AI_OFFLINE_DELAY_SECONDS = 0
    prompt = "洛阳牡丹什么时候开？"
    answer = compose_answer(prompt)
    word = next(
        answer[i : i + 2]
        for i in range(len(answer) - 1)
        if answer[i : i + 2].strip() == answer[i : i + 2]
        and answer[i : i + 2] not in prompt
        and "\n" not in answer[i : i + 2]
    )
    await sync_to_async(services.words_add)(items=[(word, "mask")], actor=moderator)
    comm = await connect("/ws/ai_assistant/ai-alice/", token=token_for(alice))
    await ws.recv_type(comm, "room_state", skip=ws.AFTER_AUTH)

    await ws.chat(comm, None, prompt)

    final = await ws.recv_type(comm, "chat", skip=("user_joined",))  # the prompt
    shown = ""
    while True:
        frame = await ws.recv(comm)
        if frame["type"] == "ai_delta":
            shown += frame["data"]["delta"]
        elif frame["type"] == "chat":
            final = frame
            break
    masked = answer.replace(word, "＊" * len(word))
    assert final["data"]["message"] == masked
    assert word not in final["data"]["message"]
    # What streamed is masked too, word by word across pieces, and complete.
    assert shown == masked


async def test_a_blocked_word_ends_the_streamed_reply(
    connect, token_for, alice, settings, moderator
):
    settings.AI_BACKEND = "offline"
    prompt = "洛阳牡丹什么时候开？"
    answer = compose_answer(prompt)
    word = answer[len(answer) // 2 : len(answer) // 2 + 2]
    await sync_to_async(services.words_add)(items=[(word, "block")], actor=moderator)
    comm = await connect("/ws/ai_assistant/ai-alice/", token=token_for(alice))
    await ws.recv_type(comm, "room_state", skip=ws.AFTER_AUTH)

    await ws.chat(comm, None, prompt)

    shown = ""
    while True:
        frame = await ws.recv(comm)
        if frame["type"] == "ai_delta":
            shown += frame["data"]["delta"]
        elif frame["type"] == "error":
            assert frame["data"]["code"] == "content_blocked"
            break
        else:
            assert frame["type"] in ("chat", "user_joined")
            assert frame["data"].get("senderId") != "assistant", frame
    assert word not in shown
    assert not await ChatMessage.objects.filter(sender__isnull=True).aexists()
