import pytest

from chat.models import Room, RoomType
from tests import ws

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_two_users_chat_in_a_circle(connect_ready, alice, bob, token_for):
    await Room.objects.acreate(room_id="circle-1", room_type=RoomType.CULTURAL_CIRCLE)
    a = await connect_ready(token=token_for(alice))
    b = await connect_ready(token=token_for(bob))
    state = await ws.join(a, "circle-1", "cultural_circle")
    assert state["data"]["onlineCount"] == 1
    await ws.recv_type(a, "user_joined")
    await ws.join(b, "circle-1", "cultural_circle")
    joined = await ws.recv_type(a, "user_joined")
    assert joined["data"]["userName"] == "Bob"
    await ws.send(
        b, {"type": "chat", "data": {"roomId": "circle-1", "message": "你好"}}
    )
    got = await ws.recv_type(a, "chat")
    assert got["data"]["message"] == "你好" and got["data"]["senderId"] == str(bob.pk)
