"""Connecting and authenticating (PROTOCOL.md section 1), through the real ASGI app."""

import base64
import json
import time
import uuid
from datetime import timedelta

import jwt
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from django.contrib.auth import get_user_model
from django.utils import timezone

from tests import ws
from tests.chat.test_protocol_frames import INVALID_TOKEN, assert_frame

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

AUTH_ERROR = {"type": "auth_error", "data": {"error": INVALID_TOKEN}}
BAD_DEVICE = "deviceType must be web, mobile or desktop"


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def bad_token(kind: str, user) -> str:
    """Return a token the server must refuse; may deactivate or delete `user`."""
    access = AccessToken.for_user(user)
    if kind == "garbage":
        return "not-a-jwt"
    if kind == "refresh":
        return str(RefreshToken.for_user(user))
    if kind == "expired":
        access.set_exp(from_time=timezone.now() - timedelta(days=1))
        return str(access)
    if kind == "bad_signature":
        return jwt.encode(
            access.payload, "not-the-signing-key-of-this-server-0123", algorithm="HS256"
        )
    if kind == "alg_none":
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(access.payload)}."
    if kind == "no_user_claim":
        del access["user_id"]
        return str(access)
    if kind == "inactive":
        get_user_model().objects.filter(pk=user.pk).update(is_active=False)
        return str(access)
    if kind == "deleted":
        token = str(access)
        user.delete()
        return token
    raise AssertionError(kind)


BAD_TOKENS = [
    "garbage",
    "refresh",
    "expired",
    "bad_signature",
    "alg_none",
    "no_user_claim",
    "inactive",
    "deleted",
]


async def recv(comm) -> dict:
    return assert_frame(await ws.recv(comm))


async def handshake(path: str, headers=None) -> tuple[bool, WebsocketCommunicator]:
    from yyc3_realtime.asgi import application

    comm = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await comm.connect(timeout=5)
    return connected, comm


# --- token in the query ---------------------------------------------------------------


async def test_valid_query_token_gets_auth_success_first(connect, alice, token_for):
    comm = await connect(token=token_for(alice), auth=False)
    first = await recv(comm)
    assert first["type"] == "auth_success"
    assert first["data"]["userId"] == str(alice.pk)
    # No clientId: the server makes a UUID.
    assert str(uuid.UUID(first["data"]["sessionId"])) == first["data"]["sessionId"]
    await ws.settle(comm)
    await ws.ping(comm)


async def test_client_id_is_echoed_as_session_id(connect, alice, token_for):
    comm = await connect(
        token=token_for(alice), query="clientId=client-uuid-1", auth=False
    )
    assert await recv(comm) == {
        "type": "auth_success",
        "data": {"userId": str(alice.pk), "sessionId": "client-uuid-1"},
    }


async def test_each_connection_without_client_id_gets_its_own_session(
    connect, alice, token_for
):
    first = await connect(token=token_for(alice), auth=False)
    second = await connect(token=token_for(alice), auth=False)
    one, two = (await recv(first))["data"], (await recv(second))["data"]
    assert one["userId"] == two["userId"] and one["sessionId"] != two["sessionId"]


@pytest.mark.parametrize("device", ["web", "mobile", "desktop"])
async def test_each_device_type_is_accepted(connect_ready, alice, token_for, device):
    comm = await connect_ready(token=token_for(alice), query=f"deviceType={device}")
    await ws.ping(comm)


@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
async def test_unknown_device_type_is_an_auth_error_then_4001(
    connect, alice, token_for, with_token
):
    token = token_for(alice) if with_token else None
    comm = await connect(token=token, query="deviceType=tv", auth=False)
    assert await recv(comm) == {"type": "auth_error", "data": {"error": BAD_DEVICE}}
    assert await ws.next_close(comm) == 4001


@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_invalid_query_token_gets_auth_error_then_4001(connect, alice, kind):
    token = await sync_to_async(bad_token)(kind, alice)
    comm = await connect(token=token, auth=False)
    assert await recv(comm) == AUTH_ERROR
    assert await ws.next_close(comm) == 4001


async def test_invalid_token_on_a_room_route_gets_auth_error_then_4001(connect, alice):
    token = await sync_to_async(bad_token)("expired", alice)
    comm = await connect("/ws/live_stream/live-1/", token=token, auth=False)
    assert await recv(comm) == AUTH_ERROR
    assert await ws.next_close(comm) == 4001


# --- first-message auth ---------------------------------------------------------------


async def test_first_message_auth(connect, alice, token_for, settings):
    settings.WS_AUTH_TIMEOUT = 0.2
    comm = await connect(auth=False)
    # Nothing is said before the client authenticates.
    assert await ws.nothing_more(comm, 0.05)
    await ws.send(
        comm, {"type": "auth", "token": token_for(alice), "clientId": "client-uuid"}
    )
    assert await recv(comm) == {
        "type": "auth_success",
        "data": {"userId": str(alice.pk), "sessionId": "client-uuid"},
    }
    await ws.settle(comm)
    # Past the auth timeout, the socket stays open: the timer was cancelled.
    assert await ws.nothing_more(comm, 0.4)
    await ws.ping(comm)


async def test_first_message_auth_without_client_id_makes_a_session(
    connect, alice, token_for
):
    comm = await connect(auth=False)
    await ws.send(comm, {"type": "auth", "token": token_for(alice)})
    session = (await recv(comm))["data"]["sessionId"]
    assert str(uuid.UUID(session)) == session


async def test_query_client_id_is_kept_by_first_message_auth(connect, alice, token_for):
    comm = await connect(query="clientId=from-query", auth=False)
    await ws.send(comm, {"type": "auth", "token": token_for(alice)})
    assert (await recv(comm))["data"]["sessionId"] == "from-query"


@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_invalid_token_in_auth_message_gets_auth_error_then_4001(
    connect, alice, kind
):
    token = await sync_to_async(bad_token)(kind, alice)
    comm = await connect(auth=False)
    await ws.send(comm, {"type": "auth", "token": token, "clientId": "c"})
    assert await recv(comm) == AUTH_ERROR
    assert await ws.next_close(comm) == 4001


async def test_no_auth_within_the_timeout_closes_4001(connect, settings):
    settings.WS_AUTH_TIMEOUT = 0.2
    started = time.monotonic()
    comm = await connect(auth=False)
    assert await ws.next_close(comm, timeout=3) == 4001
    assert time.monotonic() - started >= 0.2


async def test_messages_before_auth_do_not_stop_the_timeout(connect, settings):
    settings.WS_AUTH_TIMEOUT = 0.3
    comm = await connect(auth=False)
    await ws.send(comm, {"type": "join_room", "data": {"roomId": "r"}})
    assert (await recv(comm))["data"]["code"] == "not_authenticated"
    assert await ws.next_close(comm, timeout=3) == 4001


@pytest.mark.parametrize(
    "message",
    [
        {"type": "ping", "timestamp": 1640995200000},
        {"type": "chat", "data": {"roomId": "room-001", "message": "你好"}},
        {"type": "join_room", "data": {"roomId": "room-001", "roomType": "drama_chat"}},
        {"type": "leave_room", "data": {"roomId": "room-001"}},
        {"type": "history", "data": {"roomId": "room-001"}},
    ],
    ids=lambda m: m["type"],
)
async def test_anything_but_auth_before_auth_is_not_authenticated(
    connect, alice, token_for, message
):
    comm = await connect(auth=False)
    await ws.send(comm, {**message, "requestId": "req-1"})
    answer = await recv(comm)
    assert answer["type"] == "error" and answer["requestId"] == "req-1"
    assert answer["data"]["code"] == "not_authenticated"
    assert answer["data"]["ref"] == message["type"]
    # The socket still accepts auth afterwards.
    await ws.send(comm, {"type": "auth", "token": token_for(alice)})
    assert (await recv(comm))["type"] == "auth_success"
    await ws.settle(comm)
    await ws.ping(comm)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "auth"},
        {"type": "auth", "token": ""},
        {"type": "auth", "token": 42},
        {"type": "auth", "token": "x", "clientId": 5},
        {"type": "auth", "token": "x", "clientId": "c" * 65},
    ],
)
async def test_malformed_auth_message_is_invalid_message(
    connect, alice, token_for, message
):
    comm = await connect(auth=False)
    await ws.send(comm, message)
    answer = await recv(comm)
    assert answer["data"]["code"] == "invalid_message"
    assert answer["data"]["ref"] == "auth"
    await ws.send(comm, {"type": "auth", "token": token_for(alice)})
    assert (await recv(comm))["type"] == "auth_success"


async def test_auth_again_with_the_same_users_token_answers_auth_success(
    connect_ready, alice, token_for
):
    comm = await connect_ready(token=token_for(alice), query="clientId=dev-1")
    await ws.send(comm, {"type": "auth", "token": token_for(alice)})
    assert await recv(comm) == {
        "type": "auth_success",
        "data": {"userId": str(alice.pk), "sessionId": "dev-1"},
    }


async def test_auth_with_another_users_token_is_refused(
    connect_ready, alice, bob, token_for
):
    comm = await connect_ready(token=token_for(alice))
    await ws.send(comm, {"type": "auth", "token": token_for(bob)})
    answer = await recv(comm)
    assert answer["data"]["code"] == "invalid_message"
    assert answer["data"]["ref"] == "auth"
    await ws.ping(comm)


# --- connection limits ----------------------------------------------------------------


async def test_too_many_connections_of_one_user_closes_4029(
    connect, alice, bob, token_for, settings
):
    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    first = await connect(token=token_for(alice))
    await connect(token=token_for(alice))
    third = await connect(token=token_for(alice), auth=False)
    refused = await recv(third)
    assert refused["type"] == "error"
    assert refused["data"]["code"] == "rate_limited"
    assert refused["data"]["ref"] == "auth"
    assert await ws.next_close(third) == 4029
    # First-message auth counts the same way.
    fourth = await connect(auth=False)
    await ws.send(fourth, {"type": "auth", "token": token_for(alice)})
    assert (await recv(fourth))["data"]["code"] == "rate_limited"
    assert await ws.next_close(fourth) == 4029
    # Another user is not affected.
    await connect(token=token_for(bob))
    # A slot frees when a connection goes away.
    for comm in (third, fourth, first):
        await comm.disconnect()
    again = await connect(token=token_for(alice))
    await ws.settle(again)


async def test_too_many_connections_from_one_address_closes_4029(
    connect, alice, token_for, settings
):
    settings.WS_MAX_CONNECTIONS_PER_IP = 2
    first = await connect(auth=False)
    await connect(auth=False)
    third = await connect(token=token_for(alice), auth=False)
    refused = await recv(third)
    assert refused["type"] == "error" and refused["data"]["code"] == "rate_limited"
    assert await ws.next_close(third) == 4029
    # A slot frees when a connection goes away.
    await first.disconnect()
    await third.disconnect()
    await connect(token=token_for(alice))


# --- the handshake --------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [None, b"http://localhost:8000", b"http://127.0.0.1:3000", b"https://localhost"],
)
async def test_allowed_or_absent_origin_is_accepted(alice, token_for, origin):
    headers = [(b"origin", origin)] if origin else []
    connected, comm = await handshake(f"/ws?token={token_for(alice)}", headers)
    try:
        assert connected
        assert (await recv(comm))["type"] == "auth_success"
        await ws.settle(comm)
    finally:
        await comm.disconnect()


@pytest.mark.parametrize(
    "origin", [b"http://evil.example", b"https://localhost.evil.example", b"null"]
)
async def test_foreign_origin_is_refused_at_the_handshake(alice, token_for, origin):
    connected, comm = await handshake(
        f"/ws?token={token_for(alice)}", [(b"origin", origin)]
    )
    assert not connected


@pytest.mark.parametrize(
    "path", ["/ws/nope/", "/ws/drama_chat/", "/ws/drama_chat/bad id/", "/wss"]
)
async def test_unknown_socket_path_is_refused_at_the_handshake(path):
    connected, _ = await handshake(path)
    assert not connected


async def test_ws_with_a_trailing_slash_is_the_same_endpoint(alice, token_for):
    connected, comm = await handshake(f"/ws/?token={token_for(alice)}")
    try:
        assert connected and (await recv(comm))["type"] == "auth_success"
    finally:
        await comm.disconnect()
