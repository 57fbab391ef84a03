"""Moderation tests: a member of the Moderators group (staff, not a superuser)
drives the real admin views with Django's test client; sockets on the real ASGI
application show what users see."""

import pytest
from asgiref.sync import sync_to_async

from django.test import Client

from chat.models import Room, RoomType
from chat.roles import moderators_group
from chat.words import words
from tests import ws

CIRCLE = "circle-mod"


@pytest.fixture(autouse=True)
def fresh_word_list():
    """The word list is cached per process: no test sees another's words."""
    words.invalidate()
    yield
    words.invalidate()


@pytest.fixture
def moderator(make_user):
    user = make_user("mod", is_staff=True)
    # Made by a migration; made again here because transactional tests flush it.
    user.groups.add(moderators_group())
    return user


@pytest.fixture
def admin_web(moderator) -> Client:
    client = Client()
    client.force_login(moderator)
    return client


@pytest.fixture
def sockets(connect_ready, token_for):
    """Return `open(user, path="/ws")`: an authenticated socket past catch-up."""

    async def open_for(user, path: str = "/ws"):
        return await connect_ready(path, token=token_for(user))

    return open_for


async def make_circle(room_id: str = CIRCLE) -> Room:
    return await Room.objects.acreate(
        room_id=room_id, room_type=RoomType.CULTURAL_CIRCLE, title="河洛文化圈"
    )


async def join(comm, room_id: str = CIRCLE) -> dict:
    """Join a circle; return room_state (presence frames after it are skipped)."""
    await ws.send(comm, {"type": "join_room", "data": {"roomId": room_id}})
    return await ws.recv_type(comm, "room_state")


async def send_chat(comm, text: str, room_id: str = CIRCLE) -> dict:
    """Send a chat and return it as stored and broadcast (past presence frames)."""
    await ws.chat(comm, room_id, text)
    frame = await ws.recv_type(comm, "chat", skip=("user_joined", "user_left"))
    return frame["data"]


def message_pk(message_id: str) -> int:
    return int(message_id.split("-")[1])


async def admin_post(client: Client, url: str, data: dict):
    return await sync_to_async(client.post)(url, data)


async def admin_get(client: Client, url: str, **query):
    return await sync_to_async(client.get)(url, query)
