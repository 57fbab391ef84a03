"""What differs between room types, as frozen data: one `RoomRules` per type.

The socket handlers (`chat.consumers.rooms`), the services and the REST API read
a room's rules and never test its type. Each room-type consumer module
(`chat/consumers/drama_chat.py`, ...) documents what its rules mean to users.
"""

import enum
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

from chat.exceptions import InvalidMessage
from chat.models import RoomType


class OnJoin(enum.StrEnum):
    """Who may create a room by joining it."""

    NEVER = "never"
    ANYONE = "anyone"
    # The joiner owns it; the id is the one the server names for the joiner
    # (`chat.services.rooms.assistant_room_id`), so no one takes another's.
    OWNER = "owner"
    # Staff or the chat.add_room permission (hosts), who then own it: as over REST.
    PERMITTED = "permitted"
    DRAMA = "drama"  # the id names an existing Drama: drama-<pk>


class ViaApi(enum.StrEnum):
    """Who may create a room with POST /api/rooms/."""

    NEVER = "never"
    OWNER = "owner"  # anyone, a room of their own
    PERMITTED = "permitted"  # staff or the chat.add_room permission


@dataclass(frozen=True)
class RoomRules:
    room_type: RoomType
    create_on_join: OnJoin = OnJoin.NEVER
    create_via_api: ViaApi = ViaApi.PERMITTED
    # Keep a membership row for each joiner (standing communities).
    record_membership: bool = False
    # A chat may carry `episode` + `playbackMs` (danmaku keyed to playback).
    playback_anchors: bool = False
    # Viewers see a count (`presence` frames), not each other past a threshold.
    counts_viewers: bool = False
    # Every chat is answered by the AI assistant, within a per-user quota.
    assistant_replies: bool = False
    # Above a per-room rate viewers get a sample of the chats (`chat.density`).
    samples_chats: bool = False

    @property
    def pipeline_chats(self) -> bool:
        """Whether a connection reads its next message while its chats are being
        stored. Not where the assistant's quota counts the stored prompts."""
        return not self.assistant_replies

    def slow_mode_default(self) -> float:
        return float(settings.ROOM_SLOW_MODE_SECONDS.get(self.room_type, 0))

    def effective_slow_mode(self, own: int | None) -> float:
        """Return the slow mode of a room whose own setting is `own`."""
        return self.slow_mode_default() if own is None else float(own)

    def danmaku_rate(self, own: int | None) -> int:
        """Return the chats/s above which a room whose own setting is `own`
        is sampled (0: never)."""
        if not self.samples_chats:
            return 0
        return settings.LIVE_DANMAKU_RATE if own is None else own

    def announce_presence(self, online_count: int) -> bool:
        """Return whether user_joined/user_left go to the whole room.

        `online_count` counts the user concerned: after a join, before a leave.
        """
        return (
            not self.counts_viewers
            or online_count <= settings.LIVE_STREAM_PRESENCE_THRESHOLD
        )

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


RULES: dict[str, RoomRules] = {
    rules.room_type: rules
    for rules in (
        RoomRules(
            RoomType.DRAMA_CHAT,
            create_on_join=OnJoin.DRAMA,
            create_via_api=ViaApi.NEVER,
            playback_anchors=True,
        ),
        RoomRules(
            RoomType.LIVE_STREAM,
            create_on_join=OnJoin.PERMITTED,
            counts_viewers=True,
            samples_chats=True,
        ),
        RoomRules(
            RoomType.AI_ASSISTANT,
            create_on_join=OnJoin.OWNER,
            create_via_api=ViaApi.OWNER,
            assistant_replies=True,
        ),
        RoomRules(RoomType.CULTURAL_CIRCLE, record_membership=True),
    )
}


class RoomRef(Protocol):
    """A room as reads need it: a `Room` row, or a connection's `JoinedRoom`."""

    pk: int
    room_id: str  # the public id (slug), as on the wire
    room_type: str


@dataclass
class JoinedRoom:
    """A room one connection has joined."""

    pk: int
    room_id: str
    room_type: str
    title: str
    rules: RoomRules
    owner_id: int | None = None
