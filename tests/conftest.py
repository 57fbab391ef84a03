"""Shared fixtures: isolated channel layer per test, users, tokens, sockets.

Consumer tests drive the real `yyc3_realtime.asgi.application` through
`WebsocketCommunicator`; every socket a test opens is disconnected afterwards.
"""

import contextlib
import copy
import os
import uuid

import pytest
import pytest_asyncio
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from django.conf import settings as django_settings

from tests import ws

REDIS_URL = django_settings.REDIS_URL
POSTGRES = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
# Set by .ci/run on the PostgreSQL + Redis run: a skipped test fails the run.
REQUIRE_BACKENDS = bool(os.environ.get("YYC3_REQUIRE_BACKENDS"))


def pytest_configure(config):
    config.addinivalue_line("markers", "redis: needs Redis (REDIS_URL)")
    config.addinivalue_line("markers", "postgres: needs PostgreSQL (DATABASE_URL)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "redis" in item.keywords and not REDIS_URL:
            item.add_marker(
                pytest.mark.skip(
                    reason="needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0"
                )
            )
        if "postgres" in item.keywords and not POSTGRES:
            item.add_marker(
                pytest.mark.skip(
                    reason="needs PostgreSQL: set DATABASE_URL=postgres://..."
                )
            )


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if REQUIRE_BACKENDS and skipped and session.exitstatus == 0:
        reporter.write_line(
            f"YYC3_REQUIRE_BACKENDS: {len(skipped)} test(s) skipped on the "
            "PostgreSQL + Redis run; every test must run there.",
            red=True,
        )
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def isolated_channel_layer(settings):
    """Give every test its own channel-layer prefix (and Redis keys, flushed after)."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    if REDIS_URL:
        layers["default"]["CONFIG"]["prefix"] = prefix
    settings.CHANNEL_LAYER_PREFIX = prefix
    settings.CHANNEL_LAYERS = layers
    yield prefix
    if REDIS_URL:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle counters live in the cache: every test starts with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Hash test passwords cheaply: PBKDF2 costs ~0.4 s for every user made."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(django_user_model):
    """Return a factory of users: make_user("alice", first_name="Alice")."""

    def make(username: str | None = None, **fields):
        username = username or f"u{uuid.uuid4().hex[:8]}"
        return django_user_model.objects.create_user(
            username=username, password="pw-12345678", **fields
        )

    return make


@pytest.fixture
def amake_user(make_user):
    """`make_user` for async tests: `await amake_user("dave")`."""
    from asgiref.sync import sync_to_async

    return sync_to_async(make_user)


@pytest.fixture
def alice(make_user):
    return make_user("alice", first_name="Alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob", first_name="Bob")


@pytest.fixture
def carol(make_user):
    return make_user("carol", first_name="Carol")


@pytest.fixture
def token_for():
    """Return a function giving a fresh access token for a user."""
    return lambda user: str(AccessToken.for_user(user))


@pytest_asyncio.fixture
async def connect():
    """Open sockets on the real ASGI application; all are closed at teardown.

    `await connect(path="/ws", token=..., headers=[...], auth=True)`: with `auth`
    the first frame must be `auth_success`.
    """
    from yyc3_realtime.asgi import application

    opened: list[WebsocketCommunicator] = []

    async def open_socket(
        path: str = "/ws",
        token: str | None = None,
        *,
        query: str = "",
        headers=None,
        auth: bool = True,
    ):
        url = path
        params = [p for p in (f"token={token}" if token else "", query) if p]
        if params:
            url += "?" + "&".join(params)
        comm = WebsocketCommunicator(application, url, headers=headers or [])
        opened.append(comm)
        connected, _ = await comm.connect(timeout=5)
        assert connected, f"handshake refused for {path}"
        if auth:
            first = await ws.recv(comm)
            assert first["type"] == "auth_success", first
        return comm

    yield open_socket
    for comm in opened:
        # A socket the server already closed may raise: nothing left to do.
        with contextlib.suppress(Exception):
            await comm.disconnect(timeout=3)


@pytest.fixture
def connect_ready(connect):
    """`connect` and read past the inbox catch-up pushed after `auth_success`.

    For tests about rooms and chat: the socket's next frame answers what the test
    sends next.
    """

    async def open_ready(path: str = "/ws", token: str | None = None, **kwargs):
        comm = await connect(path, token, **kwargs)
        await ws.settle(comm)
        return comm

    return open_ready


@pytest.fixture(autouse=True, scope="session")
def close_db_thread_connections(django_db_setup):
    """Close the connection the database thread keeps, so the test DB can be dropped."""
    yield
    from asgiref.sync import SyncToAsync

    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
