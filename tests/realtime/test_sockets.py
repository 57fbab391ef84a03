"""realtime.entry.SocketEntry: Origin, token and route in one step."""

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from django.urls import re_path

from realtime.entry import KEPT_SCOPE_KEYS, SocketEntry

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

SEEN: list[dict] = []


class Probe(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        SEEN.append(self.scope)
        await self.accept()


def entry() -> SocketEntry:
    return SocketEntry(
        [
            re_path(r"^ws/?$", Probe.as_asgi()),
            re_path(r"^ws/room/(?P<room_id>[a-z0-9-]{1,20})/$", Probe.as_asgi()),
        ]
    )


async def open_probe(path: str, headers=()) -> tuple[bool, int | None]:
    comm = WebsocketCommunicator(entry(), path, headers=list(headers))
    connected, code = await comm.connect(timeout=5)
    if connected:
        await comm.disconnect()
    return connected, code


async def test_the_consumer_scope_keeps_no_headers_and_no_token(alice):
    SEEN.clear()
    token = str(AccessToken.for_user(alice))
    path = f"/ws/room/heluo-1/?token={token}&clientId=c-1&deviceType=mobile"
    connected, _ = await open_probe(path, [(b"origin", b"http://localhost")])
    assert connected
    (scope,) = SEEN
    assert set(scope) <= {*KEPT_SCOPE_KEYS, "url_route", "user", "ws"}
    assert token not in repr(scope)
    assert scope["url_route"] == {"args": (), "kwargs": {"room_id": "heluo-1"}}
    assert scope["user"].pk == alice.pk
    assert scope["ws"]["clientId"] == "c-1"
    assert scope["ws"]["deviceType"] == "mobile"
    assert scope["ws"]["auth_error"] is None


async def test_the_socket_user_is_loaded_without_password_or_email(alice):
    SEEN.clear()
    await open_probe(f"/ws?token={AccessToken.for_user(alice)}")
    user = SEEN[0]["user"]
    assert {"password", "email", "last_login"}.isdisjoint(user.__dict__)
    assert user.get_username() == "alice"


@pytest.mark.parametrize(
    "path, headers",
    [
        ("/nowhere/", []),
        ("/ws/room/UPPER/", []),
        ("/ws", [(b"origin", b"http://evil.example")]),
    ],
)
async def test_an_unknown_path_or_a_foreign_origin_is_refused(path, headers):
    SEEN.clear()
    connected, _ = await open_probe(path, headers)
    assert not connected
    assert not SEEN


async def test_the_allowed_origins_follow_the_settings(settings):
    app = entry()
    settings.WS_ALLOWED_ORIGINS = ["https://app.yyc3.com"]
    comm = WebsocketCommunicator(
        app, "/ws", headers=[(b"origin", b"https://app.yyc3.com")]
    )
    assert (await comm.connect(timeout=5))[0]
    await comm.disconnect()
    settings.WS_ALLOWED_ORIGINS = ["https://other.example"]
    comm = WebsocketCommunicator(
        app, "/ws", headers=[(b"origin", b"https://app.yyc3.com")]
    )
    assert not (await comm.connect(timeout=5))[0]
