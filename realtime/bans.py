"""Temporary bans: stored in the database (admin lists and lifts them), checked
on every process from a copy each process re-reads at least every
`ABUSE_BAN_SYNC_SECONDS`, so a check costs a dictionary lookup.

A new ban also closes the banned user's or address's open sockets on every
process at once (`close_user` / `close_address` control instructions,
`realtime.sessions`).
"""

import asyncio
import logging
import time
from datetime import timedelta

from channels.db import database_sync_to_async
from prometheus_client import Counter

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from realtime.models import TemporaryBan
from realtime.pushes import control_on_commit
from realtime.topics import ALL_TOPIC, user_topic

logger = logging.getLogger(__name__)

CLOSE_POLICY = 4008
ADDRESS, USER = "address", "user"  # TemporaryBan.Kind

BANS = Counter(
    "yyc3_abuse_bans_total", "Temporary bans handed out by the abuse score", ["kind"]
)

Key = tuple[str, str]  # (kind, value)


@transaction.atomic
def ban_create(*, kind: str, value: str, reason: str, seconds: int) -> TemporaryBan:
    """Ban an address or a user for `seconds`; their sockets close (4008) on
    every process once this commits."""
    ban = TemporaryBan.objects.create(
        kind=kind,
        value=value[:64],
        reason=reason[:200],
        expires_at=timezone.now() + timedelta(seconds=seconds),
    )
    BANS.labels(kind).inc()
    message = f"temporarily banned ({reason}) for {seconds} s"
    if kind == USER:
        control_on_commit(
            user_topic(value),
            {
                "action": "close_user",
                "userId": value,
                "code": CLOSE_POLICY,
                "message": message,
            },
        )
    else:
        control_on_commit(
            ALL_TOPIC,
            {
                "action": "close_address",
                "address": value,
                "code": CLOSE_POLICY,
                "message": message,
            },
        )
    return ban


@transaction.atomic
def ban_lift(*, bans) -> int:
    """End bans now (admin's "lift"); every process lets them in again within
    ABUSE_BAN_SYNC_SECONDS. Return how many were active."""
    return bans.filter(expires_at__gt=timezone.now()).update(expires_at=timezone.now())


def bans_active() -> dict[Key, float]:
    """Return the active bans: (kind, value) -> expiry as a Unix time."""
    return {
        (kind, value): expires.timestamp()
        for kind, value, expires in TemporaryBan.objects.filter(
            expires_at__gt=timezone.now()
        ).values_list("kind", "value", "expires_at")
    }


class BanList:
    """Per-process state: a copy of the active bans, re-read when stale."""

    def __init__(self) -> None:
        self.active: dict[Key, float] = {}
        self.loaded_at = float("-inf")
        self._loading: asyncio.Future | None = None

    async def until(self, kind: str, value: str) -> float | None:
        """Return when the ban of (kind, value) ends (Unix time), or None."""
        if time.monotonic() - self.loaded_at > settings.ABUSE_BAN_SYNC_SECONDS:
            await self.reload()
        expires = self.active.get((kind, value))
        if expires is None or expires <= time.time():
            return None
        return expires

    async def reload(self) -> None:
        """Re-read the bans (one reader at a time; the others wait for it)."""
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load())
        loading = self._loading
        try:
            await asyncio.shield(loading)
        finally:
            if self._loading is loading and loading.done():
                self._loading = None

    async def _load(self) -> None:
        try:
            self.active = await database_sync_to_async(bans_active)()
        except Exception:  # noqa: BLE001 - keep the last copy, try again later
            logger.warning("could not read the temporary bans", exc_info=True)
        self.loaded_at = time.monotonic()

    def add(self, kind: str, value: str, expires: float) -> None:
        self.active[(kind, value)] = expires
