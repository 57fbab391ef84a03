"""Open sockets end with their credentials: the access token's expiry, a
deactivated or deleted account; a token whose user id is malformed is refused
like any bad token (issue 11: it was an HTTP 500)."""

import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests import ws

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

INVALID_TOKEN = "Token无效或已过期"


def short_token(user, seconds: float) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return str(token)


def token_with_user_id(user_id) -> str:
    token = AccessToken()
    token["user_id"] = user_id
    return str(token)


async def test_a_socket_closes_4001_when_its_token_expires(connect, alice):
    """Issue 12: a token that expired 3 s ago still chatted."""
    comm = await connect(token=short_token(alice, 1.5))
    await ws.settle(comm)
    started = time.monotonic()
    frame = await ws.recv(comm, timeout=5)
    assert frame == {"type": "auth_error", "data": {"error": INVALID_TOKEN}}
    assert await ws.next_close(comm) == 4001
    assert time.monotonic() - started < 3


async def test_auth_again_for_the_same_user_keeps_the_socket(connect, alice, token_for):
    comm = await connect(token=short_token(alice, 1.5))
    await ws.settle(comm)
    await ws.send(comm, {"type": "auth", "token": token_for(alice)})
    assert (await ws.recv(comm))["type"] == "auth_success"
    assert await comm.receive_nothing(2.5)
    await ws.ping(comm)


async def test_first_message_auth_expires_too(connect, alice):
    comm = await connect(auth=False)
    await ws.send(comm, {"type": "auth", "token": short_token(alice, 1.5)})
    assert (await ws.recv(comm))["type"] == "auth_success"
    assert (await ws.recv_type(comm, "auth_error", 5, ws.AFTER_AUTH))["data"] == {
        "error": INVALID_TOKEN
    }
    assert await ws.next_close(comm) == 4001


async def test_deactivating_a_user_closes_all_their_sockets_within_a_second(
    connect, alice, bob, token_for
):
    """Issue 12: a user set is_active=False kept chatting."""
    first = await connect(token=token_for(alice))
    second = await connect("/ws", token=token_for(alice))
    other = await connect(token=token_for(bob))
    for comm in (first, second, other):
        await ws.settle(comm)
    alice.is_active = False
    await sync_to_async(alice.save)()
    for comm in (first, second):
        assert (await ws.recv(comm, timeout=1))["data"]["code"] == "forbidden"
        assert await ws.next_close(comm, timeout=1) == 4003
    await ws.ping(other)


async def test_deleting_a_user_closes_their_sockets(connect, alice, token_for):
    comm = await connect(token=token_for(alice))
    await ws.settle(comm)
    await sync_to_async(alice.delete)()
    assert (await ws.recv(comm, timeout=1))["data"]["code"] == "forbidden"
    assert await ws.next_close(comm, timeout=1) == 4003


@pytest.mark.parametrize("user_id", ["abc", 10**30, -1, [1], {"a": 1}, None])
async def test_a_signed_token_with_a_malformed_user_id_is_an_auth_error(
    connect, user_id
):
    """Issue 11: a validly signed token whose user_id is "abc" gave HTTP 500."""
    comm = await connect(token=token_with_user_id(user_id), auth=False)
    assert await ws.recv(comm) == {
        "type": "auth_error",
        "data": {"error": INVALID_TOKEN},
    }
    assert await ws.next_close(comm) == 4001
    comm = await connect(auth=False)
    await ws.send(comm, {"type": "auth", "token": token_with_user_id(user_id)})
    assert (await ws.recv(comm))["type"] == "auth_error"
    assert await ws.next_close(comm) == 4001


@pytest.mark.parametrize("user_id", ["abc", 10**30])
async def test_rest_refuses_a_malformed_user_id_with_401(user_id):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_with_user_id(user_id)}")
    response = await sync_to_async(client.get)("/api/rooms/")
    assert response.status_code == 401
