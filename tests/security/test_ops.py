"""/metrics behind a setting, the optional address allowlist, no silent
truncation of client ids, and a documented answer when Redis is down at connect
(issue 11: a 1011 close with a traceback)."""

import logging

import pytest
from rest_framework.test import APIClient

from tests import ws
from tests.security.conftest import ATTACKER


@pytest.mark.parametrize(
    ("peer", "headers", "status"),
    [
        (ATTACKER, {}, 403),
        # An untrusted peer naming a loopback address is still itself.
        (ATTACKER, {"HTTP_X_FORWARDED_FOR": "127.0.0.1"}, 403),
        (ATTACKER, {"HTTP_AUTHORIZATION": "Bearer wrong"}, 403),
        (ATTACKER, {"HTTP_AUTHORIZATION": "Bearer s3cret-metrics"}, 200),
        ("127.0.0.1", {}, 200),
    ],
)
def test_metrics_are_private(settings, peer, headers, status):
    """Issue 12: /metrics was public."""
    settings.METRICS_TOKEN = "s3cret-metrics"
    response = APIClient().get("/metrics", REMOTE_ADDR=peer, **headers)
    assert response.status_code == status


@pytest.mark.django_db
def test_the_api_allowlist(settings, alice):
    settings.WS_IP_ALLOWLIST = ["198.51.100.0/24"]
    body = {"username": "alice", "password": "pw-12345678"}
    outside = APIClient().post("/api/auth/token/", body, REMOTE_ADDR=ATTACKER)
    assert outside.status_code == 403
    inside = APIClient().post("/api/auth/token/", body, REMOTE_ADDR="198.51.100.4")
    assert inside.status_code == 200
    settings.WS_IP_ALLOWLIST = []
    assert (
        APIClient().post("/api/auth/token/", body, REMOTE_ADDR=ATTACKER).status_code
        == 200
    )


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_socket_allowlist(sock_from, settings, alice, token_for):
    settings.WS_IP_ALLOWLIST = ["198.51.100.0/24"]
    _, accepted = await sock_from(token=token_for(alice))
    assert not accepted  # refused at the handshake (HTTP 403)
    comm, accepted = await sock_from(token=token_for(alice), client=("198.51.100.4", 1))
    assert accepted and (await ws.recv(comm))["type"] == "auth_success"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["clientId", "lastNotificationId"])
async def test_a_long_id_in_the_url_is_refused_not_cut(connect, alice, token_for, name):
    """Issue 12: a clientId over 64 characters was silently cut to 64 (and
    refused when sent in `auth`)."""
    comm = await connect(token=token_for(alice), query=f"{name}={'x' * 65}", auth=False)
    frame = await ws.recv(comm)
    assert frame["type"] == "auth_error"
    assert name in frame["data"]["error"]
    assert await ws.next_close(comm) == 4001
    comm = await connect(token=token_for(alice), query=f"{name}={'x' * 64}")
    await ws.settle(comm)  # answers: the socket is open


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_redis_down_at_connect_is_unavailable_then_1013(
    connect, settings, alice, token_for, caplog
):
    """Issue 11: Redis down at connect closed 1011 with a traceback. Nothing
    listens on port 1: presence and the layer both fail."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    caplog.set_level(logging.WARNING)
    comm = await connect(token=token_for(alice), auth=False)
    frame = await ws.recv(comm, timeout=10)
    assert frame["type"] == "error"
    assert frame["data"]["code"] == "unavailable"
    assert frame["data"]["retryAfterMs"] > 0
    assert await ws.next_close(comm, timeout=10) == 1013
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]
