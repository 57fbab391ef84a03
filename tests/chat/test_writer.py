"""Group commit through the socket: concurrent chats are stored together and each
sender still gets its own outcome."""

import asyncio

import pytest

from chat.models import ChatMessage, Room, RoomType
from tests import ws

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_concurrent_chats_all_arrive_in_id_order(
    connect_ready, amake_user, token_for, settings
):
    settings.WS_MAX_CONNECTIONS_PER_USER = 50
    await Room.objects.acreate(room_id="batch-room", room_type=RoomType.CULTURAL_CIRCLE)
    users = [await amake_user(f"w{i}") for i in range(6)]
    socks = [await connect_ready(token=token_for(u)) for u in users]
    for sock, user in zip(socks, users, strict=True):
        # Wait for this join to be announced before the next one starts, so no
        # earlier announcement is still on its way to the next joiner.
        await ws.send(sock, {"type": "join_room", "data": {"roomId": "batch-room"}})
        await ws.recv_type(sock, "room_state", skip=("user_joined",))
        while (await ws.recv_type(sock, "user_joined"))["data"]["userId"] != str(
            user.pk
        ):
            pass
    listener = socks[0]
    sends = [
        ws.send(
            sock,
            {"type": "chat", "data": {"roomId": "batch-room", "message": f"m{i}-{n}"}},
        )
        for n in range(5)
        for i, sock in enumerate(socks)
    ]
    await asyncio.gather(*sends)
    got = []
    while len(got) < 30:
        frame = await ws.recv(listener)
        if frame["type"] == "chat":
            got.append(frame["data"])
    ids = [d["id"] for d in got]
    assert ids == sorted(ids) and len(set(ids)) == 30
    assert sorted(d["message"] for d in got) == sorted(
        f"m{i}-{n}" for n in range(5) for i in range(6)
    )
    assert await ChatMessage.objects.filter(room__room_id="batch-room").acount() == 30
