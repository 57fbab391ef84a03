"""What differs between room types, as one policy object per type.

A room's policy is consulted the same way whether the room was joined through
`join_room` on `/ws` or through its own route `/ws/<roomType>/<roomId>/`.
Each room-type module (drama_chat.py, ...) subclasses `RoomPolicy`.
"""

import time
from dataclasses import dataclass, field

from django.conf import settings

from chat.exceptions import RateLimited


@dataclass
class JoinedRoom:
    """A room one connection has joined."""

    pk: int
    room_id: str
    room_type: str
    title: str
    policy: "RoomPolicy"
    slow_mode_seconds: float = 0.0


@dataclass
class RoomPolicy:
    room_type: str = ""
    # Who may create the room by joining it: never, anyone, owner, drama.
    create_on_join: str = "never"
    # Keep a membership row for each joiner (standing communities).
    record_membership: bool = False
    # Last send time per (room pk, user id) on this process, for slow mode.
    _last_sent: dict = field(default_factory=dict, repr=False)

    def slow_mode_default(self) -> float:
        return float(settings.ROOM_SLOW_MODE_SECONDS.get(self.room_type, 0))

    def announce_presence(self, online_count: int) -> bool:
        """Return whether user_joined/user_left go to the whole room."""
        return True

    def check_chat(self, conn, joined: JoinedRoom) -> None:
        """Raise a ClientError when the user may not send to this room right now."""
        interval = joined.slow_mode_seconds
        if interval <= 0:
            return
        key = (joined.pk, conn.user_id)
        now = time.monotonic()
        last = self._last_sent.get(key)
        if last is not None and now - last < interval:
            wait_ms = int((interval - (now - last)) * 1000) + 1
            raise RateLimited(
                f"slow mode: wait {wait_ms} ms", extra={"retryAfterMs": wait_ms}
            )
        self._last_sent[key] = now
        if len(self._last_sent) > 100_000:
            self._last_sent.clear()

    async def on_joined(self, conn, joined: JoinedRoom, online_count: int) -> None:
        """Called after a connection joined (room_state already sent)."""

    async def on_left(self, conn, joined: JoinedRoom, online_count: int) -> None:
        """Called after a connection left the room or disconnected."""

    async def after_chat(self, conn, joined: JoinedRoom, data: dict) -> None:
        """Called after a user's chat was stored and broadcast."""
