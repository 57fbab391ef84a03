"""Slow mode: a minimum interval between one user's chats in a room.

The interval is the room's own setting (admin) or its type's default
(`ROOM_SLOW_MODE_SECONDS`). Counted per user on this process, over all their
connections here; the room's host (its owner) and staff are not slowed down.
A process re-reads the settings it holds every ROOM_SETTINGS_TTL seconds, many
rooms in one query.
"""

import time

from channels.db import database_sync_to_async

from chat import selectors
from chat.exceptions import RateLimited
from chat.models import Room
from chat.room_types import RULES, JoinedRoom

# How long a process trusts its copy of a room's slow-mode setting: a change made
# in admin reaches every connection within this many seconds.
ROOM_SETTINGS_TTL = 5.0
# Most other rooms whose settings one room's re-read brings along.
MAX_ROOMS_PER_READ = 500
# Users' last sends are forgotten all at once past this many (a rare reset).
MAX_REMEMBERED_SENDS = 100_000


class SlowMode:
    """This process's slow-mode view (`realtime.runtime().state(SlowMode)`)."""

    def __init__(self) -> None:
        self.seconds: dict[int, tuple[float, float]] = {}
        self.last_sent: dict[tuple[int, str], float] = {}

    def remember_room(self, room: Room) -> None:
        """Called with the room just read on join: refreshes the cached setting."""
        rules = RULES[room.room_type]
        self.seconds[room.pk] = (
            rules.effective_slow_mode(room.slow_mode_seconds),
            time.monotonic(),
        )

    async def interval(self, joined: JoinedRoom) -> float:
        cached = self.seconds.get(joined.pk)
        if cached is None or time.monotonic() - cached[1] > ROOM_SETTINGS_TTL:
            await self._refresh(joined)
            cached = self.seconds[joined.pk]
        return cached[0]

    async def _refresh(self, joined: JoinedRoom) -> None:
        """Re-read this room's setting, and with it every cached room's past half
        its TTL: one query for many rooms instead of one each."""
        now = time.monotonic()
        stale = [
            pk
            for pk, (_, at) in self.seconds.items()
            if pk != joined.pk and now - at > ROOM_SETTINGS_TTL / 2
        ]
        pks = [joined.pk, *stale[:MAX_ROOMS_PER_READ]]
        found = await database_sync_to_async(selectors.rooms_slow_mode)(room_pks=pks)
        read_at = time.monotonic()
        own = found[joined.pk][1] if joined.pk in found else None
        self.seconds[joined.pk] = (joined.rules.effective_slow_mode(own), read_at)
        for pk in pks[1:]:
            if pk in found:
                room_type, own = found[pk]
                seconds = RULES[room_type].effective_slow_mode(own)
                self.seconds[pk] = (seconds, read_at)
            else:  # deleted: read again if it is ever asked for
                self.seconds.pop(pk, None)

    async def check(self, user, joined: JoinedRoom) -> None:
        """Raise RateLimited (with the wait) when `user` sent too recently here."""
        if user.is_staff or user.pk == joined.owner_id:
            return
        interval = await self.interval(joined)
        if interval <= 0:
            return
        key = (joined.pk, str(user.pk))
        now = time.monotonic()
        last = self.last_sent.get(key)
        if last is not None and now - last < interval:
            wait_ms = int((interval - (now - last)) * 1000) + 1
            raise RateLimited(
                f"slow mode: wait {wait_ms} ms", extra={"retryAfterMs": wait_ms}
            )
        self.last_sent[key] = now
        if len(self.last_sent) > MAX_REMEMBERED_SENDS:
            self.last_sent.clear()
