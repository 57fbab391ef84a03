"""Delivery with the database as its source of truth: nothing lost, nothing twice.

The channel layer may lose a chat (a Redis restart, a process killed between
commit and publish); each process reads what it lacks back from the database, in
order. A reconnecting client resumes with `join_room` + `lastMessageId`.
"""

import asyncio

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async

from chat import services
from chat.models import ChatMessage, Room, RoomType
from realtime import room_topic, runtime
from realtime.wire import encode
from tests import ws

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def stored_quietly(room: Room, user, text: str) -> dict:
    """Store a chat without publishing it: as if its process died right after
    the commit."""
    data, _ = services.message_create(room=room, user=user, text=text)
    return data


@pytest_asyncio.fixture
async def room_and_socket(connect_ready, alice, token_for):
    room = await Room.objects.acreate(
        room_id="deliver-1", room_type=RoomType.CULTURAL_CIRCLE
    )
    sock = await connect_ready(token=token_for(alice))
    await ws.join(sock, "deliver-1", "cultural_circle")
    await ws.recv_type(sock, "user_joined")
    return room, sock


async def chats(sock, count: int, timeout: float = 3) -> list[str]:
    got = []
    while len(got) < count:
        frame = await ws.recv(sock, timeout)
        if frame["type"] == "chat":
            got.append(frame["data"]["message"])
    return got


async def test_a_chat_never_published_arrives_from_the_database(
    room_and_socket, alice, settings
):
    """No later chat reveals the gap: the periodic check of the room's newest id
    delivers it."""
    settings.WS_GAP_CHECK_SECONDS = 0.1
    room, sock = room_and_socket
    await sync_to_async(stored_quietly)(room, alice, "lost on the wire")
    assert await chats(sock, 1) == ["lost on the wire"]
    assert await ws.nothing_more(sock, 0.4)  # once only


async def test_a_gap_is_read_back_in_order_not_skipped(
    room_and_socket, alice, settings
):
    """Chat 2 was stored but its publish lost; chat 3 arrives live: after the hold,
    2 is read from the database and delivered before 3."""
    settings.WS_ORDER_HOLD_SECONDS = 0.1
    settings.WS_GAP_CHECK_SECONDS = 60  # only the hold may find it
    room, sock = room_and_socket
    await ws.send(
        sock, {"type": "chat", "data": {"roomId": "deliver-1", "message": "1"}}
    )
    assert await chats(sock, 1) == ["1"]
    await sync_to_async(stored_quietly)(room, alice, "2")
    third = await sync_to_async(stored_quietly)(room, alice, "3")
    text = encode({"type": "chat", "data": third})
    runtime().hub.deliver_in_order(room_topic(room.pk), 3, [text])
    assert await chats(sock, 2) == ["2", "3"]
    assert await ws.nothing_more(sock)


async def test_the_layers_echo_of_a_chat_delivered_here_is_dropped(
    room_and_socket, settings
):
    """This process's sockets get a chat before the layer carries it; the copy
    the layer brings back is not delivered again."""
    room, sock = room_and_socket
    await ws.send(
        sock, {"type": "chat", "data": {"roomId": "deliver-1", "message": "a"}}
    )
    first = await ws.recv_type(sock, "chat")
    runtime().hub.deliver_in_order(
        room_topic(room.pk), 1, [encode({"type": "chat", "data": first["data"]})]
    )
    assert await ws.nothing_more(sock)


async def test_resume_answers_exactly_what_was_missed(
    connect_ready, alice, bob, token_for, settings
):
    settings.WS_HISTORY_MAX_LIMIT = 3
    room = await Room.objects.acreate(
        room_id="resume-1", room_type=RoomType.CULTURAL_CIRCLE
    )
    seen = await sync_to_async(stored_quietly)(room, bob, "seen")
    for i in range(4):
        await sync_to_async(stored_quietly)(room, bob, f"missed {i}")
    sock = await connect_ready(token=token_for(alice))
    await ws.send(
        sock,
        {
            "type": "join_room",
            "requestId": "r1",
            "data": {"roomId": "resume-1", "lastMessageId": seen["id"]},
        },
    )
    state = await ws.recv_type(sock, "room_state")
    assert state["data"]["recent"] == []
    history = await ws.recv_type(sock, "history", skip=("user_joined",))
    assert history["requestId"] == "r1"
    assert [m["message"] for m in history["data"]["messages"]] == [
        "missed 0",
        "missed 1",
        "missed 2",
    ]
    assert history["data"]["hasMore"] is True


async def test_resume_then_live_without_a_duplicate(connect_ready, alice, token_for):
    room = await Room.objects.acreate(
        room_id="resume-2", room_type=RoomType.CULTURAL_CIRCLE
    )
    seen = await sync_to_async(stored_quietly)(room, alice, "seen")
    await sync_to_async(stored_quietly)(room, alice, "missed")
    sock = await connect_ready(token=token_for(alice))
    await ws.send(
        sock,
        {
            "type": "join_room",
            "data": {"roomId": "resume-2", "lastMessageId": seen["id"]},
        },
    )
    await ws.recv_type(sock, "room_state")
    history = await ws.recv_type(sock, "history", skip=("user_joined",))
    assert [m["message"] for m in history["data"]["messages"]] == ["missed"]
    await ws.send(
        sock, {"type": "chat", "data": {"roomId": "resume-2", "message": "new"}}
    )
    assert await chats(sock, 1) == ["new"]
    assert await ws.nothing_more(sock, 0.3)


async def test_a_joiner_gets_each_chat_once_while_others_chat(
    connect_ready, alice, bob, token_for, settings
):
    """Chats published while a socket joins either are in its room_state.recent
    or arrive live after it, never both."""
    settings.WS_MESSAGES_BURST = 100
    await Room.objects.acreate(room_id="busy-1", room_type=RoomType.CULTURAL_CIRCLE)
    sender = await connect_ready(token=token_for(bob))
    await ws.join(sender, "busy-1", "cultural_circle")

    async def chatter():
        for i in range(30):
            await ws.send(
                sender,
                {"type": "chat", "data": {"roomId": "busy-1", "message": str(i)}},
            )
            await asyncio.sleep(0.005)

    sending = asyncio.ensure_future(chatter())
    await asyncio.sleep(0.03)
    joiner = await connect_ready(token=token_for(alice))
    state = await ws.join(joiner, "busy-1", "cultural_circle")
    await sending
    got = [m["message"] for m in state["data"]["recent"]]
    while not await ws.nothing_more(joiner, 0.5):
        frame = await ws.recv(joiner)
        if frame["type"] == "chat":
            got.append(frame["data"]["message"])
    assert got == [str(i) for i in range(int(got[0]), 30)]
    stored = await ChatMessage.objects.filter(room__room_id="busy-1").acount()
    assert stored == 30
