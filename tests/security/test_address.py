"""The client address: the socket peer unless it is a trusted proxy; only then
the right-most X-Forwarded-For entry that is not a trusted proxy. Every limit
counts that address, so a spoofed header gains nothing."""

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from realtime.address import client_address
from tests import ws

PROXY = "10.0.0.5"
WRONG = {"username": "alice", "password": "wrong"}


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "expected"),
    [
        ([], "203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: header ignored
        (["10.0.0.0/8"], "10.0.0.5", None, "10.0.0.5"),
        (["10.0.0.0/8"], "10.0.0.5", "1.2.3.4, 198.51.100.7", "198.51.100.7"),
        # Left of the last untrusted entry is the client's own word.
        (["10.0.0.0/8"], "10.0.0.5", "198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (["10.0.0.0/8"], "10.0.0.5", "10.0.0.8, 10.0.0.9", "10.0.0.8"),
        (["10.0.0.0/8"], "10.0.0.5", "not-an-ip", "10.0.0.5"),
        (["10.0.0.0/8"], "::ffff:10.0.0.5", "[2001:db8::1]:443", "2001:db8::1"),
        (["127.0.0.1/32"], "127.0.0.1", "203.0.113.7:5678", "203.0.113.7"),
    ],
)
def test_the_client_address(settings, trusted, peer, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    assert client_address(peer, forwarded) == expected


@pytest.fixture
def sign_in_limit(monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"token": "5/min"})


def attempts(client: APIClient, headers: list[dict]) -> list[int]:
    return [
        client.post("/api/auth/token/", WRONG, format="json", **h).status_code
        for h in headers
    ]


@pytest.mark.django_db
def test_a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_dodge_sign_in(
    sign_in_limit, alice
):
    """Issue 12: 40 wrong passwords, each with another X-Forwarded-For, were all
    401 (DRF keyed the throttle on the raw header)."""
    headers = [
        {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": f"198.51.100.{i}"}
        for i in range(40)
    ]
    codes = attempts(APIClient(), headers)
    assert codes[:5] == [401] * 5
    assert set(codes[5:]) == {429}


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_client_has_its_own_budget(
    settings, sign_in_limit, alice
):
    """Through a trusted proxy the forwarded client counts, whatever it puts
    left of the proxy's entry; another client behind the same proxy is apart."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    spoofing = [
        {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": f"1.1.1.{i}, 198.51.100.7"}
        for i in range(8)
    ]
    assert attempts(APIClient(), spoofing) == [401] * 5 + [429] * 3
    other = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.8"}
    assert attempts(APIClient(), [other]) == [401]


@pytest.mark.django_db
def test_sign_in_is_also_throttled_per_username(settings, sign_in_limit, alice):
    """Many addresses (a botnet) against one account: the username's budget."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.AUTH_TOKEN_USERNAME_RATE = "3/min"
    spread = [
        {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": f"198.51.100.{i}"}
        for i in range(5)
    ]
    assert attempts(APIClient(), spread) == [401] * 3 + [429] * 2


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("trusted", "counted_apart"),
    [([], False), (["10.0.0.0/8"], True)],
)
async def test_the_per_address_socket_cap_counts_the_decided_address(
    sock_from, settings, alice, bob, token_for, trusted, counted_apart
):
    """Two clients behind one proxy: apart when the proxy is trusted; one
    address (the peer) when it is not, whatever their headers claim."""
    settings.TRUSTED_PROXIES = trusted
    settings.WS_MAX_CONNECTIONS_PER_IP = 1
    first, _ = await sock_from(
        token=token_for(alice),
        client=(PROXY, 1),
        headers=[(b"x-forwarded-for", b"198.51.100.1")],
    )
    assert (await ws.recv(first))["type"] == "auth_success"
    second, _ = await sock_from(
        token=token_for(bob),
        client=(PROXY, 2),
        headers=[(b"x-forwarded-for", b"198.51.100.2")],
    )
    frame = await ws.recv(second)
    if counted_apart:
        assert frame["type"] == "auth_success"
    else:
        assert frame["data"]["code"] == "rate_limited"
        assert await ws.expect_close(second) == 4029
