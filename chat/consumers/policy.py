"""What differs between room types, as one policy object per type.

A room's policy is consulted the same way whether the room was joined through
`join_room` on `/ws` or through its own route `/ws/<roomType>/<roomId>/`: the
handlers in `chat.consumers.rooms` call its hooks and never test a room's type.
Each room-type module (drama_chat.py, ...) holds its type's subclass.
"""

import time
from dataclasses import dataclass

from channels.db import database_sync_to_async

from django.conf import settings

from chat import selectors
from chat.exceptions import InvalidMessage, RateLimited
from chat.models import Room
from chat.per_loop import per_event_loop

# How long a process trusts its copy of a room's slow-mode setting: a change made
# in admin reaches every connection within this many seconds.
ROOM_SETTINGS_TTL = 5.0


@dataclass
class JoinedRoom:
    """A room one connection has joined."""

    pk: int
    room_id: str
    room_type: str
    title: str
    policy: "RoomPolicy"
    owner_id: int | None = None


class SlowModeState:
    """This process's slow-mode view: room settings read lately, users' last sends."""

    def __init__(self) -> None:
        self.seconds: dict[int, tuple[float, float]] = {}
        self.last_sent: dict[tuple[int, str], float] = {}


slow_mode_state = per_event_loop(SlowModeState)


@dataclass
class RoomPolicy:
    room_type: str = ""
    # Who may create the room by joining it: never, anyone, owner, drama.
    create_on_join: str = "never"
    # Who may create one with POST /api/rooms/: owner (anyone, a room of their
    # own), permitted (staff or the chat.add_room permission), never.
    create_via_api: str = "permitted"
    # Keep a membership row for each joiner (standing communities).
    record_membership: bool = False
    # A chat may carry `episode` + `playbackMs` (danmaku keyed to playback).
    playback_anchors: bool = False
    # Read a connection's next message while its chats are being stored (they are
    # stored in the order sent; see RoomsMixin.on_chat). False when check_chat
    # reads what earlier chats stored (the assistant's quota).
    pipeline_chats: bool = True

    # --- slow mode ---------------------------------------------------------------

    def slow_mode_default(self) -> float:
        return float(settings.ROOM_SLOW_MODE_SECONDS.get(self.room_type, 0))

    def effective_slow_mode(self, own: int | None) -> float:
        """Return the slow mode of a room whose own setting is `own`."""
        return self.slow_mode_default() if own is None else float(own)

    def remember_room(self, room: Room) -> None:
        """Called with the room just read on join: refreshes the cached settings."""
        slow_mode_state().seconds[room.pk] = (
            self.effective_slow_mode(room.slow_mode_seconds),
            time.monotonic(),
        )

    async def slow_mode_seconds(self, joined: JoinedRoom) -> float:
        state = slow_mode_state()
        cached = state.seconds.get(joined.pk)
        if cached is None or time.monotonic() - cached[1] > ROOM_SETTINGS_TTL:
            own = await database_sync_to_async(selectors.room_slow_mode)(
                room_pk=joined.pk
            )
            cached = (self.effective_slow_mode(own), time.monotonic())
            state.seconds[joined.pk] = cached
        return cached[0]

    async def check_slow_mode(self, conn, joined: JoinedRoom) -> None:
        """Raise RateLimited (with the wait) when the user sent too recently here.

        The room's host (its owner) and staff are not slowed down. Counted per
        user on this process, over all their connections here.
        """
        if conn.user.is_staff or conn.user.pk == joined.owner_id:
            return
        interval = await self.slow_mode_seconds(joined)
        if interval <= 0:
            return
        last_sent = slow_mode_state().last_sent
        key = (joined.pk, conn.user_id)
        now = time.monotonic()
        last = last_sent.get(key)
        if last is not None and now - last < interval:
            wait_ms = int((interval - (now - last)) * 1000) + 1
            raise RateLimited(
                f"slow mode: wait {wait_ms} ms", extra={"retryAfterMs": wait_ms}
            )
        last_sent[key] = now
        if len(last_sent) > 100_000:
            last_sent.clear()

    # --- hooks called by the room handlers ----------------------------------------

    def announce_presence(self, online_count: int) -> bool:
        """Return whether user_joined/user_left go to the whole room.

        `online_count` counts the user concerned: after a join, before a leave.
        """
        return True

    def check_anchors(self, data: dict) -> None:
        """Refuse playback anchors where the type has none, or half of a pair."""
        episode, playback_ms = data["episode"], data["playbackMs"]
        if not self.playback_anchors:
            if episode is not None or playback_ms is not None:
                raise InvalidMessage(
                    "'episode'/'playbackMs' are for drama_chat rooms only"
                )
        elif (episode is None) != (playback_ms is None):
            raise InvalidMessage("'episode' and 'playbackMs' go together")

    async def check_chat(self, conn, joined: JoinedRoom, data: dict) -> None:
        """Raise a ClientError when the user may not send this chat here right now."""
        self.check_anchors(data)
        await self.check_slow_mode(conn, joined)

    async def on_joined(self, conn, joined: JoinedRoom, online_count: int) -> None:
        """Called after a connection joined the room (room_state already sent)."""

    async def on_left(self, conn, joined: JoinedRoom, online_count: int) -> None:
        """Called after a connection left the room or disconnected."""

    def after_chat(self, conn, joined: JoinedRoom, data: dict) -> None:
        """Called after a user's chat was stored and broadcast; start any
        follow-up work with `conn._spawn` (a task of the connection)."""
