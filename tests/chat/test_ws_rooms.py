"""Rooms over the socket: join, leave, chat, history, presence, and every refusal.

Negative checks ("bob got nothing") use a sentinel instead of a sleep: after the
action that must not reach bob, something that must reach him is sent, and his
next frame has to be that one.
"""

import logging
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async

from django.utils import timezone

from chat import services
from chat.models import ChatMessage, Drama, Room, RoomType, Sanction
from tests import ws
from tests.chat.test_protocol_frames import assert_frame, is_iso_z

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

CIRCLE = "circle-1"


async def recv(comm) -> dict:
    return assert_frame(await ws.recv(comm))


async def recv_type(comm, kind: str) -> dict:
    return assert_frame(await ws.recv_type(comm, kind))


async def make_room(room_id: str = CIRCLE, **fields) -> Room:
    fields.setdefault("room_type", RoomType.CULTURAL_CIRCLE)
    fields.setdefault("title", "河洛文化圈")
    return await Room.objects.acreate(room_id=room_id, **fields)


async def join(comm, room_id: str = CIRCLE, room_type: str | None = None, **top):
    """Join; return room_state (the joiner's own user_joined, if any, follows)."""
    data = {"roomId": room_id}
    if room_type:
        data["roomType"] = room_type
    await ws.send(comm, {"type": "join_room", "data": data, **top})
    state = await recv(comm)
    assert state["type"] == "room_state", state
    return state


async def join_first(comm, user, room_id: str = CIRCLE) -> dict:
    """Join as the user's first connection: room_state, then their user_joined."""
    state = await join(comm, room_id, "cultural_circle")
    announced = await recv(comm)
    assert announced["type"] == "user_joined"
    assert announced["data"]["userId"] == str(user.pk)
    return state


async def both_in_room(sockets, alice, bob):
    """Return Alice's and Bob's sockets, both in CIRCLE; Alice saw Bob join."""
    a, b = await sockets(alice), await sockets(bob)
    await join_first(a, alice)
    await join_first(b, bob)
    await recv_type(a, "user_joined")
    return a, b


async def error_of(comm, code: str, ref: str | None) -> dict:
    frame = await recv(comm)
    assert frame["type"] == "error", frame
    assert (frame["data"]["code"], frame["data"].get("ref")) == (code, ref), frame
    return frame


async def history(comm, room_id: str = CIRCLE, **data) -> dict:
    await ws.send(comm, {"type": "history", "data": {"roomId": room_id, **data}})
    return await recv(comm)


@pytest.fixture
def sockets(connect_ready, token_for):
    """Return `open(user)`: an authenticated /ws socket past the inbox catch-up."""

    async def open_for(user, **kwargs):
        return await connect_ready(token=token_for(user), **kwargs)

    return open_for


# --- join, chat, leave ----------------------------------------------------------------


async def test_join_answers_room_state_then_announces_the_joiner(sockets, alice):
    await make_room()
    a = await sockets(alice)
    state = await join(a, CIRCLE, "cultural_circle", requestId="j-1")
    assert state == {
        "type": "room_state",
        "requestId": "j-1",
        "data": {
            "roomId": CIRCLE,
            "roomType": "cultural_circle",
            "title": "河洛文化圈",
            "onlineCount": 1,
            "recent": [],
        },
    }
    announced = await recv(a)
    assert announced["type"] == "user_joined"
    assert announced["data"] == {
        "roomId": CIRCLE,
        "userId": str(alice.pk),
        "userName": "Alice",
        "timestamp": announced["data"]["timestamp"],
    }
    assert is_iso_z(announced["data"]["timestamp"])


async def test_join_without_room_type_joins_an_existing_room(sockets, alice):
    await make_room()
    a = await sockets(alice)
    state = await join(a, CIRCLE)
    assert state["data"]["roomType"] == "cultural_circle"


async def test_others_see_user_joined_with_the_user_name(sockets, alice, bob):
    await make_room()
    a, b = await sockets(alice), await sockets(bob)
    await join_first(a, alice)
    state = await join_first(b, bob)
    assert state["data"]["onlineCount"] == 2
    joined = await recv(a)
    assert joined["type"] == "user_joined"
    assert joined["data"]["userId"] == str(bob.pk)
    assert joined["data"]["userName"] == "Bob"


async def test_chat_reaches_everyone_in_the_room_the_sender_included(
    sockets, alice, bob, carol
):
    await make_room()
    a, b, c = await sockets(alice), await sockets(bob), await sockets(carol)
    await join_first(a, alice)
    await join_first(b, bob)
    await recv_type(a, "user_joined")
    await ws.chat(b, CIRCLE, "你好", messageType="text")
    to_bob, to_alice = await recv(b), await recv(a)
    assert to_bob == to_alice
    assert to_bob["type"] == "chat"
    data = to_bob["data"]
    assert data == {
        "id": data["id"],
        "roomId": CIRCLE,
        "senderId": str(bob.pk),
        "senderName": "Bob",
        "message": "你好",
        "messageType": "text",
        "timestamp": data["timestamp"],
    }
    # Carol is not in the room: her next frame is the answer to her own ping.
    await ws.ping(c)


@pytest.mark.parametrize(
    ("message_type", "message"),
    [("emoji", "😀"), ("image", "https://cdn.example.com/a.png"), ("text", "x")],
)
async def test_message_types(sockets, alice, message_type, message):
    await make_room()
    a = await sockets(alice)
    await join_first(a, alice)
    await ws.chat(a, CIRCLE, message, messageType=message_type)
    got = (await recv(a))["data"]
    assert (got["messageType"], got["message"]) == (message_type, message)


async def test_message_type_defaults_to_text(sockets, alice):
    await make_room()
    a = await sockets(alice)
    await join_first(a, alice)
    await ws.chat(a, CIRCLE, "hi")
    assert (await recv(a))["data"]["messageType"] == "text"


async def test_room_state_carries_the_recent_chat_oldest_first(
    sockets, alice, bob, settings
):
    settings.WS_ROOM_STATE_RECENT = 2
    await make_room()
    a = await sockets(alice)
    await join_first(a, alice)
    sent = []
    for text in ("one", "two", "three"):
        await ws.chat(a, CIRCLE, text)
        sent.append((await recv(a))["data"])
    b = await sockets(bob)
    state = await join_first(b, bob)
    assert state["data"]["recent"] == sent[1:]


async def test_leave_room_announces_user_left_to_the_others(sockets, alice, bob):
    await make_room()
    a, b = await both_in_room(sockets, alice, bob)
    await ws.send(b, {"type": "leave_room", "data": {"roomId": CIRCLE}})
    left = await recv(a)
    assert left["type"] == "user_left"
    assert left["data"]["userId"] == str(bob.pk)
    assert left["data"]["userName"] == "Bob"
    # The leaver gets no user_left of its own and no more chat of the room.
    await ws.chat(a, CIRCLE, "after bob left")
    assert (await recv(a))["type"] == "chat"
    await ws.ping(b)
    # Chat and leave are refused now.
    await ws.chat(b, CIRCLE, "hello?")
    await error_of(b, "not_in_room", "chat")
    await ws.send(b, {"type": "leave_room", "data": {"roomId": CIRCLE}})
    await error_of(b, "not_in_room", "leave_room")


async def test_disconnect_announces_user_left(sockets, alice, bob):
    await make_room()
    a, b = await both_in_room(sockets, alice, bob)
    await b.disconnect()
    left = await recv(a)
    assert left["type"] == "user_left" and left["data"]["userId"] == str(bob.pk)


async def test_chat_to_a_room_not_joined_is_not_in_room(sockets, alice):
    await make_room()
    a = await sockets(alice)
    await ws.send(
        a,
        {
            "type": "chat",
            "data": {"roomId": CIRCLE, "message": "hi"},
            "requestId": "c-1",
        },
    )
    frame = await error_of(a, "not_in_room", "chat")
    assert frame["requestId"] == "c-1"
    assert await ChatMessage.objects.acount() == 0


async def test_joining_twice_answers_room_state_again_without_announcing(
    sockets, alice
):
    await make_room()
    a = await sockets(alice)
    await join_first(a, alice)
    again = await join(a, CIRCLE, "cultural_circle")
    assert again["data"]["onlineCount"] == 1
    await ws.ping(a)


async def test_one_socket_may_join_several_rooms(sockets, alice, bob):
    await make_room()
    await make_room("circle-2", title="二")
    a, b = await sockets(alice), await sockets(bob)
    await join_first(a, alice)
    await join_first(a, alice, "circle-2")
    await join_first(b, bob, "circle-2")
    await recv_type(a, "user_joined")
    await ws.chat(b, "circle-2", "in two")
    got = await recv(a)
    assert got["data"]["roomId"] == "circle-2"


async def test_request_id_is_echoed_on_direct_answers(sockets, alice):
    await make_room()
    a = await sockets(alice)
    assert (await ws.ping(a, "p-1"))["requestId"] == "p-1"
    assert (await join(a, CIRCLE, requestId="j-1"))["requestId"] == "j-1"
    await recv_type(a, "user_joined")
    await ws.send(a, {"type": "history", "data": {"roomId": CIRCLE}, "requestId": "h"})
    assert (await recv(a))["requestId"] == "h"
    # The broadcast chat is not a direct answer: no requestId on it.
    await ws.send(
        a,
        {"type": "chat", "data": {"roomId": CIRCLE, "message": "x"}, "requestId": "c"},
    )
    assert "requestId" not in await recv(a)


# --- presence is per user -------------------------------------------------------------


async def test_presence_is_per_user_across_devices(sockets, alice, bob):
    await make_room()
    watcher = await sockets(bob)
    await join_first(watcher, bob)
    phone = await sockets(alice, query="deviceType=mobile")
    laptop = await sockets(alice, query="deviceType=desktop")

    # First device: announced once, to the room and to itself.
    await join_first(phone, alice)
    joined = await recv(watcher)
    assert joined["type"] == "user_joined" and joined["data"]["userId"] == str(alice.pk)

    # Second device: room_state only; nobody hears of it.
    state = await join(laptop, CIRCLE, "cultural_circle")
    assert state["data"]["onlineCount"] == 2
    await ws.chat(laptop, CIRCLE, "sentinel-1")
    for comm in (watcher, phone, laptop):
        assert (await recv(comm))["data"]["message"] == "sentinel-1"

    # One device leaves: alice is still in the room.
    await ws.send(phone, {"type": "leave_room", "data": {"roomId": CIRCLE}})
    await ws.chat(laptop, CIRCLE, "sentinel-2")
    assert (await recv(watcher))["data"]["message"] == "sentinel-2"
    assert (await recv(laptop))["data"]["message"] == "sentinel-2"

    # The last device goes: now she left.
    await laptop.disconnect()
    left = await recv(watcher)
    assert left["type"] == "user_left" and left["data"]["userId"] == str(alice.pk)
    assert left["data"]["userName"] == "Alice"


async def test_online_count_counts_users_not_connections(sockets, alice, bob, carol):
    await make_room()
    # Each first join is complete (its user_joined seen) before the next join.
    await join_first(await sockets(alice), alice)
    await join(await sockets(alice), CIRCLE)
    await join_first(await sockets(bob), bob)
    state = await join_first(await sockets(carol), carol)
    assert state["data"]["onlineCount"] == 3


async def test_a_users_devices_all_receive_the_chat(sockets, alice, bob):
    await make_room()
    one, two = await sockets(alice), await sockets(alice)
    b = await sockets(bob)
    await join_first(one, alice)
    await join(two, CIRCLE)
    await join_first(b, bob)
    await ws.chat(b, CIRCLE, "to both")
    for comm in (one, two):
        assert (await recv(comm))["data"]["userId"] == str(bob.pk)  # user_joined
        assert (await recv(comm))["data"]["message"] == "to both"


# --- clientMsgId ----------------------------------------------------------------------


async def test_client_msg_id_repeat_is_stored_and_broadcast_once(sockets, alice, bob):
    await make_room()
    a, b = await both_in_room(sockets, alice, bob)

    await ws.chat(a, CIRCLE, "once", clientMsgId="m-1")
    first = await recv(a)
    assert first["data"]["clientMsgId"] == "m-1"
    assert await recv(b) == first

    # The retry is answered to the sender with the stored message, not re-sent.
    await ws.chat(a, CIRCLE, "once (retry)", clientMsgId="m-1")
    assert await recv(a) == first
    await ws.chat(a, CIRCLE, "next", clientMsgId="m-2")
    assert (await recv(b))["data"]["clientMsgId"] == "m-2"
    assert (await recv(a))["data"]["clientMsgId"] == "m-2"

    # The same clientMsgId from another user is another message.
    await ws.chat(b, CIRCLE, "bob's", clientMsgId="m-1")
    bobs = await recv(b)
    assert bobs["data"]["id"] != first["data"]["id"]
    assert await recv(a) == bobs
    assert await ChatMessage.objects.acount() == 3


@pytest.mark.parametrize("pipelined", [32, 1])
async def test_chats_sent_back_to_back_are_stored_in_the_order_sent(
    sockets, alice, bob, settings, pipelined
):
    """A sender's next chat is read while the last is being stored (pipelined):
    the order, each refusal with its requestId, and history all hold."""
    settings.WS_MAX_PIPELINED_MESSAGES = pipelined
    settings.WS_MESSAGES_BURST = 100
    settings.CHAT_BLOCKED_WORDS = ["spoiler"]
    await make_room()
    a, b = await both_in_room(sockets, alice, bob)
    texts = [f"m{i}" if i != 7 else "spoiler" for i in range(20)]
    for i, text in enumerate(texts):
        await ws.send(
            a,
            {
                "type": "chat",
                "requestId": f"r{i}",
                "data": {"roomId": CIRCLE, "message": text},
            },
        )
    refused = []
    got = []
    while len(got) < 19:
        frame = await recv(a)
        if frame["type"] == "error":
            refused.append(frame)
        else:
            got.append(frame["data"])
    assert [m["message"] for m in got] == [t for t in texts if t != "spoiler"]
    assert [m["id"] for m in got] == sorted(m["id"] for m in got)
    assert [(await recv(b))["data"] for _ in range(19)] == got
    if not refused:
        refused.append(await recv(a))
    assert refused == [
        {
            "type": "error",
            "data": {
                "code": "content_blocked",
                "message": refused[0]["data"]["message"],
                "ref": "chat",
            },
            "requestId": "r7",
        }
    ]
    # A history asked right after a chat, without waiting for it, includes it.
    await ws.chat(a, CIRCLE, "last")
    await ws.send(a, {"type": "history", "data": {"roomId": CIRCLE}})
    # (The echo comes through the channel layer: on Redis it may follow the page.)
    frames = {frame["type"]: frame for frame in [await recv(a), await recv(a)]}
    assert frames["chat"]["data"]["message"] == "last"
    page = frames["history"]["data"]["messages"]
    assert [m["message"] for m in page][-2:] == ["m19", "last"]


async def test_client_msg_id_is_per_room(sockets, alice):
    await make_room()
    await make_room("circle-2")
    a = await sockets(alice)
    await join_first(a, alice)
    await join_first(a, alice, "circle-2")
    await ws.chat(a, CIRCLE, "x", clientMsgId="same")
    one = await recv(a)
    await ws.chat(a, "circle-2", "x", clientMsgId="same")
    two = await recv(a)
    assert one["data"]["roomId"] == CIRCLE and two["data"]["roomId"] == "circle-2"


# --- refusals -------------------------------------------------------------------------


async def test_missing_and_private_rooms_answer_identically(
    sockets, alice, bob, make_user
):
    await make_room("ai-alice", room_type=RoomType.AI_ASSISTANT, owner=alice)
    b = await sockets(bob)
    answers = []
    for room_id, room_type in [
        ("ai-alice", "ai_assistant"),  # alice's: bob may not see it
        ("ai-alice", None),
        ("ai-alice", "cultural_circle"),
        ("no-such-room", None),
        ("no-such-circle", "cultural_circle"),
        ("drama-999999", "drama_chat"),
    ]:
        data = {"roomId": room_id}
        if room_type:
            data["roomType"] = room_type
        await ws.send(b, {"type": "join_room", "data": data})
        answers.append(await recv(b))
    for room_id in ("ai-alice", "no-such-room"):
        await ws.send(b, {"type": "history", "data": {"roomId": room_id}})
        answers.append(await recv(b))
    expected = {"code": "room_not_found", "message": answers[0]["data"]["message"]}
    assert [a["data"] for a in answers[:6]] == [{**expected, "ref": "join_room"}] * 6
    assert [a["data"] for a in answers[6:]] == [{**expected, "ref": "history"}] * 2
    assert all(a["type"] == "error" for a in answers)


async def test_the_owner_joins_their_assistant_room(sockets, alice):
    await make_room("ai-alice", room_type=RoomType.AI_ASSISTANT, owner=alice)
    a = await sockets(alice)
    state = await join(a, "ai-alice", "ai_assistant")
    assert state["data"]["roomType"] == "ai_assistant"


async def test_room_type_mismatch(sockets, alice):
    await make_room()
    a = await sockets(alice)
    await ws.send(
        a, {"type": "join_room", "data": {"roomId": CIRCLE, "roomType": "drama_chat"}}
    )
    await error_of(a, "room_type_mismatch", "join_room")
    # Also when this socket already joined the room under its real type.
    await join_first(a, alice)
    await ws.send(
        a, {"type": "join_room", "data": {"roomId": CIRCLE, "roomType": "live_stream"}}
    )
    await error_of(a, "room_type_mismatch", "join_room")
    await ws.ping(a)


async def test_joining_a_closed_room_is_room_closed(sockets, alice):
    await make_room(is_closed=True)
    a = await sockets(alice)
    await ws.send(a, {"type": "join_room", "data": {"roomId": CIRCLE}})
    await error_of(a, "room_closed", "join_room")


async def test_a_room_closed_by_a_moderator_tells_its_sockets(sockets, alice, bob):
    room = await make_room()
    a, b = await sockets(alice), await sockets(bob)
    await join_first(a, alice)
    await sync_to_async(services.room_close)(room=room)
    closed = await recv(a)
    assert closed["type"] == "error"
    assert closed["data"]["code"] == "room_closed"
    assert closed["data"]["roomId"] == CIRCLE
    assert "ref" not in closed["data"]
    # The socket is out of the room, and stays open.
    await ws.chat(a, CIRCLE, "still here?")
    await error_of(a, "not_in_room", "chat")
    await ws.send(b, {"type": "join_room", "data": {"roomId": CIRCLE}})
    await error_of(b, "room_closed", "join_room")


async def test_chat_to_a_room_closed_meanwhile_is_room_closed(sockets, alice):
    await make_room()
    a = await sockets(alice)
    await join_first(a, alice)
    await Room.objects.filter(room_id=CIRCLE).aupdate(is_closed=True)
    await ws.chat(a, CIRCLE, "too late")
    await error_of(a, "room_closed", "chat")
    assert await ChatMessage.objects.acount() == 0


async def test_a_muted_user_cannot_chat(sockets, alice, bob):
    room = await make_room()
    a, b = await both_in_room(sockets, alice, bob)
    mute = await Sanction.objects.acreate(
        kind="mute",
        room=room,
        user=alice,
        ends_at=timezone.now() + timedelta(minutes=5),
        reason="r",
    )
    await ws.chat(a, CIRCLE, "let me speak")
    refused = await error_of(a, "muted", "chat")
    assert is_iso_z(refused["data"]["until"])
    # Others still talk; bob never saw alice's refused chat.
    await ws.chat(b, CIRCLE, "bob here")
    assert (await recv(a))["data"]["message"] == "bob here"
    assert (await recv(b))["data"]["message"] == "bob here"
    # A mute that ran out no longer holds.
    mute.ends_at = timezone.now() - timedelta(seconds=1)
    await mute.asave()
    await ws.chat(a, CIRCLE, "free again")
    assert (await recv(a))["data"]["message"] == "free again"


async def test_a_banned_user_cannot_join(sockets, alice):
    room = await make_room()
    await Sanction.objects.acreate(kind="ban", room=room, user=alice, reason="r")
    a = await sockets(alice)
    await ws.send(a, {"type": "join_room", "data": {"roomId": CIRCLE}})
    await error_of(a, "forbidden", "join_room")
    await ws.ping(a)


async def test_a_ban_closes_the_users_sockets_in_the_room_with_4003(
    sockets, alice, bob
):
    room = await make_room()
    a, b = await sockets(alice), await sockets(bob)
    elsewhere = await sockets(alice)
    await join_first(a, alice)
    await join_first(b, bob)
    await recv_type(a, "user_joined")
    await sync_to_async(services.sanction_apply)(
        room=room, user=alice, kind="ban", reason="r"
    )
    assert await ws.expect_close(a) == 4003
    # Bob stays, and so does alice's socket that is not in the room.
    await ws.ping(b)
    await ws.ping(elsewhere)
    await ws.send(elsewhere, {"type": "join_room", "data": {"roomId": CIRCLE}})
    await error_of(elsewhere, "forbidden", "join_room")


async def test_too_many_rooms_on_one_socket_is_forbidden(sockets, alice, settings):
    settings.WS_MAX_ROOMS_PER_CONNECTION = 1
    await make_room()
    await make_room("circle-2")
    a = await sockets(alice)
    await join_first(a, alice)
    await ws.send(a, {"type": "join_room", "data": {"roomId": "circle-2"}})
    await error_of(a, "forbidden", "join_room")


async def test_blocked_words_are_refused(sockets, alice, bob, settings):
    settings.CHAT_BLOCKED_WORDS = ["spoiler"]
    await make_room()
    a, b = await both_in_room(sockets, alice, bob)
    await ws.chat(a, CIRCLE, "BIG Spoiler: he dies")
    await error_of(a, "content_blocked", "chat")
    await ws.chat(a, CIRCLE, "no spoil here")
    assert (await recv(b))["data"]["message"] == "no spoil here"
    assert (await recv(a))["data"]["message"] == "no spoil here"
    assert [m["message"] for m in (await history(a))["data"]["messages"]] == [
        "no spoil here"
    ]


async def test_message_too_long(sockets, alice, settings):
    settings.WS_MAX_CHAT_CHARS = 5
    await make_room()
    a = await sockets(alice)
    await join_first(a, alice)
    await ws.chat(a, CIRCLE, "123456")
    await error_of(a, "message_too_long", "chat")
    await ws.chat(a, CIRCLE, "你好你好你")
    assert (await recv(a))["data"]["message"] == "你好你好你"


async def test_slow_mode_is_rate_limited_with_retry_after(sockets, alice, settings):
    settings.ROOM_SLOW_MODE_SECONDS = {
        **settings.ROOM_SLOW_MODE_SECONDS,
        "live_stream": 30,
    }
    # A host opens the stream; viewers cannot by joining (issue 12).
    await Room.objects.acreate(room_id="live-1", room_type=RoomType.LIVE_STREAM)
    a = await sockets(alice)
    state = await join(a, "live-1", "live_stream")
    assert state["data"]["roomType"] == "live_stream"
    await recv_type(a, "user_joined")
    await ws.chat(a, "live-1", "first")
    await recv_type(a, "chat")
    await ws.chat(a, "live-1", "second")
    frame = await error_of(a, "rate_limited", "chat")
    assert 29_000 < frame["data"]["retryAfterMs"] <= 30_001


# --- drama rooms, deleted messages ----------------------------------------------------


async def test_a_dramas_room_is_made_on_first_join(sockets, alice):
    drama = await Drama.objects.acreate(title="河洛传奇", owner=alice)
    a = await sockets(alice)
    state = await join(a, f"drama-{drama.pk}", "drama_chat")
    assert state["data"]["title"] == "河洛传奇"
    assert state["data"]["roomType"] == "drama_chat"


async def test_largest_playback_anchors_are_stored(sockets, alice):
    drama = await Drama.objects.acreate(title="河洛传奇", owner=alice)
    room_id = f"drama-{drama.pk}"
    a = await sockets(alice)
    await join(a, room_id, "drama_chat")
    await recv_type(a, "user_joined")
    await ws.chat(a, room_id, "弹幕", episode=2**31 - 1, playbackMs=2**53 - 1)
    got = (await recv(a))["data"]
    assert (got["episode"], got["playbackMs"]) == (2**31 - 1, 2**53 - 1)
    assert (await history(a, room_id))["data"]["messages"] == [got]


async def test_a_hidden_message_is_deleted_for_everyone(sockets, alice, bob):
    await make_room()
    a, b = await both_in_room(sockets, alice, bob)
    await ws.chat(a, CIRCLE, "oops")
    sent = (await recv(a))["data"]
    await recv(b)
    message = await ChatMessage.objects.select_related("room").aget()
    await sync_to_async(services.message_hide)(message=message)
    for comm in (a, b):
        assert await recv(comm) == {
            "type": "message_deleted",
            "data": {"roomId": CIRCLE, "messageId": sent["id"]},
        }
    assert (await history(b))["data"]["messages"] == []


# --- history --------------------------------------------------------------------------


async def chat_many(comm, texts, room_id: str = CIRCLE) -> list[dict]:
    out = []
    for text in texts:
        await ws.chat(comm, room_id, text)
        out.append((await recv_type(comm, "chat"))["data"])
    return out


async def test_history_pages_before_and_after(sockets, alice):
    await make_room()
    a = await sockets(alice)
    await join_first(a, alice)
    m = await chat_many(a, ["m1", "m2", "m3", "m4", "m5"])
    ids = [x["id"] for x in m]

    def page(frame):
        return [x["id"] for x in frame["data"]["messages"]], frame["data"]["hasMore"]

    latest = await history(a)
    assert latest["data"]["roomId"] == CIRCLE
    assert latest["data"]["messages"] == m
    assert latest["data"]["hasMore"] is False
    assert page(await history(a, limit=2)) == (ids[3:], True)
    assert page(await history(a, before=ids[3], limit=2)) == (ids[1:3], True)
    assert page(await history(a, before=ids[1], limit=2)) == (ids[:1], False)
    assert page(await history(a, after=ids[0], limit=2)) == (ids[1:3], True)
    assert page(await history(a, after=ids[2], limit=2)) == (ids[3:], False)
    assert page(await history(a, after=ids[4])) == ([], False)
    assert page(await history(a, after=ids[0], before=ids[4])) == (ids[1:4], False)
    # A bare room sequence works as an id too.
    assert page(await history(a, after=ids[2][:12])) == (ids[3:], False)


async def test_history_limit_is_capped(sockets, alice, settings):
    settings.WS_HISTORY_MAX_LIMIT = 2
    await make_room()
    a = await sockets(alice)
    await join_first(a, alice)
    m = await chat_many(a, ["m1", "m2", "m3"])
    frame = await history(a, limit=100)
    assert frame["data"]["messages"] == m[1:]
    assert frame["data"]["hasMore"] is True


async def test_history_needs_no_join(sockets, alice, bob):
    await make_room()
    a, b = await sockets(alice), await sockets(bob)
    await join_first(a, alice)
    m = await chat_many(a, ["hello"])
    assert (await history(b))["data"]["messages"] == m


async def test_history_of_an_empty_room(sockets, alice):
    await make_room()
    a = await sockets(alice)
    frame = await history(a)
    assert frame["data"] == {"roomId": CIRCLE, "messages": [], "hasMore": False}


async def test_ids_compare_as_strings_in_room_order(sockets, alice):
    # Start just below a digit boundary: "9" < "10" must hold as strings too.
    await make_room(last_seq=7)
    a = await sockets(alice)
    await join_first(a, alice)
    m = await chat_many(a, [f"n{i}" for i in range(5)])
    ids = [x["id"] for x in m]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [x["message"] for x in m] == [f"n{i}" for i in range(5)]
    # history resumes after an id across the boundary.
    frame = await history(a, after=ids[1])
    assert [x["id"] for x in frame["data"]["messages"]] == ids[2:]


async def test_history_costs_two_queries(sockets, alice, settings, caplog):
    settings.WS_MESSAGES_BURST = 100
    await make_room()
    a = await sockets(alice)
    await join_first(a, alice)
    await chat_many(a, [f"m{i}" for i in range(30)])
    # The consumer queries on its own connection (connections are per context):
    # count every connection's queries through the backend's debug log.
    settings.DEBUG = True
    with caplog.at_level(logging.DEBUG, logger="django.db.backends"):
        frame = await history(a, limit=20)
    queries = [r.getMessage() for r in caplog.records if r.name == "django.db.backends"]
    assert len(frame["data"]["messages"]) == 20
    assert len(queries) == 2, queries


# --- room-type routes -----------------------------------------------------------------


async def test_room_route_joins_its_room_and_chat_may_omit_room_id(
    connect, alice, token_for
):
    await make_room()
    comm = await connect(f"/ws/cultural_circle/{CIRCLE}/", token=token_for(alice))
    state = assert_frame(await ws.recv_type(comm, "room_state", skip=ws.AFTER_AUTH))
    assert state["data"]["roomId"] == CIRCLE
    await recv_type(comm, "user_joined")
    await ws.chat(comm, None, "no roomId needed")
    got = await recv(comm)
    assert got["data"]["roomId"] == CIRCLE
    assert (await history(comm))["data"]["messages"] == [got["data"]]
    await ws.send(comm, {"type": "join_room", "data": {"roomId": "circle-2"}})
    await error_of(comm, "invalid_message", "join_room")
    await ws.send(comm, {"type": "leave_room", "data": {"roomId": CIRCLE}})
    await error_of(comm, "invalid_message", "leave_room")


async def test_room_route_of_a_missing_room_says_why_then_closes(
    connect, alice, token_for
):
    comm = await connect(f"/ws/cultural_circle/{CIRCLE}/", token=token_for(alice))
    refused = assert_frame(await ws.recv_type(comm, "error", skip=ws.AFTER_AUTH))
    assert refused["data"]["code"] == "room_not_found"
    assert refused["data"]["ref"] == "join_room"
    assert await ws.next_close(comm) == 4404


async def test_gateway_chat_without_room_id_is_invalid(sockets, alice):
    a = await sockets(alice)
    await ws.send(a, {"type": "chat", "data": {"message": "where?"}})
    await error_of(a, "invalid_message", "chat")
