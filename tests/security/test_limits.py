"""Limits that cannot be dodged: a user's message rate survives reconnecting,
handshakes per address, the abuse score and its temporary bans (listed and
lifted in admin, counted in metrics)."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from prometheus_client import REGISTRY

from django.test import Client

from realtime import ratelimit
from realtime.models import TemporaryBan
from tests import ws
from tests.security.conftest import ATTACKER

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slow_refill(settings):
    """A burst of 5 and almost no refill: what a test sends is what it gets."""
    settings.WS_MESSAGES_PER_SECOND = 0.01
    settings.WS_MESSAGES_BURST = 5
    settings.CULTURAL_CIRCLE_SLOW_MODE_SECONDS = 0


async def test_a_reconnect_loop_gains_nothing(sock_from, slow_refill, alice, token_for):
    """Issue 12: users reconnecting in a loop got a fresh burst each time; the
    user's bucket (5 messages here) now holds across their sockets."""
    answers = []
    for round_ in range(4):
        comm, _ = await sock_from(token=token_for(alice))
        assert (await ws.recv(comm))["type"] == "auth_success"
        for i in range(3):
            await ws.send(comm, {"type": "ping", "requestId": f"{round_}-{i}"})
        while len(answers) < 3 * (round_ + 1):
            frame = await ws.recv(comm)
            if frame.get("requestId"):
                answers.append(frame["type"])
        await comm.disconnect()
    assert answers == ["pong"] * 5 + ["error"] * 7
    assert not await TemporaryBan.objects.aexists()  # refused, not banned


async def test_handshakes_per_address_per_second(sock_from, settings, alice, token_for):
    """Issue 12: no handshake rate per address; here the 4th in a second is
    refused (rate_limited, 4029) before any token is checked."""
    settings.WS_HANDSHAKES_PER_SECOND = 3
    for _ in range(3):
        comm, accepted = await sock_from(token=token_for(alice))
        assert accepted
        assert (await ws.recv(comm))["type"] == "auth_success"
    comm, _ = await sock_from(token=token_for(alice))
    frame = await ws.recv(comm)
    assert frame["data"]["code"] == "rate_limited"
    assert await ws.next_close(comm) == 4029
    other, _ = await sock_from(token=token_for(alice), client=("198.51.100.1", 1))
    assert (await ws.recv(other))["type"] == "auth_success"


async def ready(comm) -> None:
    """Read auth_success and what follows it, up to a pong."""
    assert (await ws.recv(comm))["type"] == "auth_success"
    await ws.settle(comm)


async def bans_made(count: int) -> dict:
    """Return the bans by (kind, value) once there are `count` (the socket may
    close before the last one is written)."""
    for _ in range(100):
        bans = {(b.kind, b.value): b async for b in TemporaryBan.objects.all()}
        if len(bans) >= count:
            return bans
        await asyncio.sleep(0.02)
    return bans


def counter(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_abuse_bans_the_address_and_user_on_every_process_until_lifted(
    sock_from, settings, alice, bob, token_for, admin_user
):
    """Bad frames past the threshold: 4008, a ban of the address and the user
    (stored, so every process refuses them), listed in admin with its reason,
    counted in metrics, and lifted there."""
    settings.ABUSE_BAN_THRESHOLD = 30
    settings.ABUSE_BAN_SYNC_SECONDS = 0
    settings.WS_MAX_BAD_MESSAGES_PER_MINUTE = 25
    bans_before = counter("yyc3_abuse_bans_total", kind="user")
    comm, _ = await sock_from(token=token_for(alice))
    await ready(comm)
    for _ in range(30):
        await ws.send_raw(comm, "not json")
    assert await ws.expect_close(comm) == 4008
    bans = await bans_made(2)
    assert set(bans) == {("address", ATTACKER), ("user", str(alice.pk))}
    assert all(b.active and b.reason for b in bans.values())
    assert counter("yyc3_abuse_bans_total", kind="user") == bans_before + 1

    # The address is refused at the handshake, the user wherever they come from.
    again, _ = await sock_from(token=token_for(bob))
    assert (await ws.recv(again))["data"]["code"] == "forbidden"
    assert await ws.next_close(again) == 4008
    elsewhere, _ = await sock_from(token=token_for(alice), client=("198.51.100.1", 1))
    assert (await ws.recv(elsewhere))["data"]["code"] == "forbidden"
    assert await ws.next_close(elsewhere) == 4008

    admin = Client()
    await sync_to_async(admin.force_login)(admin_user)
    listing = await sync_to_async(admin.get)("/admin/realtime/temporaryban/")
    assert ATTACKER in listing.content.decode()
    lifted = await sync_to_async(admin.post)(
        "/admin/realtime/temporaryban/",
        {
            "action": "lift",
            "_selected_action": [b.pk for b in bans.values()],
        },
    )
    assert lifted.status_code == 302
    assert not [b async for b in TemporaryBan.objects.all() if b.active]
    back, _ = await sock_from(token=token_for(alice))
    assert (await ws.recv(back))["type"] == "auth_success"


async def test_a_ban_closes_the_users_open_sockets(
    sock_from, settings, alice, token_for
):
    settings.ABUSE_BAN_THRESHOLD = 30
    settings.WS_MAX_BAD_MESSAGES_PER_MINUTE = 25
    quiet, _ = await sock_from(token=token_for(alice), client=("198.51.100.1", 1))
    await ready(quiet)
    noisy, _ = await sock_from(token=token_for(alice))
    await ready(noisy)
    for _ in range(30):
        await ws.send_raw(noisy, "{")
    assert await ws.expect_close(noisy) == 4008
    assert (await ws.recv(quiet))["data"]["code"] == "forbidden"
    assert await ws.next_close(quiet) == 4008


@pytest.mark.redis
async def test_a_users_messages_are_counted_over_every_process(settings, monkeypatch):
    """Four processes' buckets of one user (10 each, 40 in all) against the
    shared window in Redis (burst + 10 s of rate = 20): once it is full every
    process refuses that user. Each process learns it one message late (the
    charge follows the message), so at most 20 + 4 get through."""
    monkeypatch.setattr(ratelimit, "USER_CHARGE_INTERVAL", 0)
    settings.WS_USER_MESSAGES_PER_SECOND = 1
    settings.WS_USER_MESSAGES_BURST = 10
    settings.WS_USER_RATE_SYNC_EVERY = 1
    processes = [ratelimit.UserRates() for _ in range(4)]
    buckets = [rates.acquire("42") for rates in processes]
    accepted = 0
    for _ in range(10):
        for rates, bucket in zip(processes, buckets, strict=True):
            accepted += rates.take(bucket, time.monotonic()) == 0
            await asyncio.gather(*rates._charging)
    assert 20 <= accepted <= 24
