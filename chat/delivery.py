"""Rooms' chats read back from the database for delivery: the runtime's
`SequenceSource` for room topics (gap fills), and what a joining socket gets.

A room's chats are numbered by the room's sequence; the database is the source
of truth for what a socket should have received (`realtime.ordering`).
"""

from channels.db import database_sync_to_async

from django.conf import settings
from django.db import connection

from chat import frames, selectors
from chat.models import ChatMessage, Room, parse_message_id
from chat.room_types import JoinedRoom
from realtime.wire import encode

ROOM_PREFIX = "room."


def room_heads(*, room_pks: list[int]) -> dict[int, int]:
    """Return each room's newest sequence number, in one hand-written query
    (every join reads one; the ORM spent more compiling it than running it)."""
    if not room_pks:
        return {}
    marks = ", ".join(["%s"] * len(room_pks))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, last_seq FROM {Room._meta.db_table} WHERE id IN ({marks})",
            [int(pk) for pk in room_pks],
        )
        return dict(cursor.fetchall())


def chats_between(*, room_pk: int, after: int, upto: int, limit: int) -> list:
    """Return [(seq, encoded chat frame)] of a room's visible chats with
    after < seq <= upto, oldest first, at most `limit`."""
    rows = (
        ChatMessage.objects.filter(
            room_id=room_pk, seq__gt=after, seq__lte=upto, is_hidden=False
        )
        .select_related("room")
        .order_by("seq")[:limit]
    )
    return [
        (m.seq, encode(frames.chat(frames.message_data(m, m.room.room_id))))
        for m in rows
    ]


class RoomSequences:
    """Gap fills of room topics (registered in ChatConfig.ready())."""

    def handles(self, topic: str) -> bool:
        return topic.startswith(ROOM_PREFIX)

    async def heads(self, topics: list[str]) -> dict[str, int]:
        by_pk = {int(t[len(ROOM_PREFIX) :]): t for t in topics if self.handles(t)}
        found = await database_sync_to_async(room_heads)(room_pks=list(by_pk))
        return {by_pk[pk]: head for pk, head in found.items()}

    async def read(self, topic: str, after: int, upto: int, limit: int) -> list:
        return await database_sync_to_async(chats_between)(
            room_pk=int(topic[len(ROOM_PREFIX) :]), after=after, upto=upto, limit=limit
        )


def join_snapshot(
    *, joined: JoinedRoom, last_message_id: str | None
) -> tuple[list[dict], list[dict] | None, bool, int]:
    """Return what a joining socket gets from the database: (recent, missed,
    has_more, upto). `missed` is None unless resuming after `last_message_id`;
    `upto` is the newest sequence it was given, or that was committed before
    it was read: live frames up to it are not sent to the socket again.
    """
    if last_message_id is None:
        # The head and the rows in one statement, so of one snapshot.
        recent, head = _recent(joined)
        seqs = [parse_message_id(m["id"]) or 0 for m in recent]
        return recent, None, False, max([head, *seqs])
    # Read the head first: anything committed after this read is in the rows
    # read next, or newer than both.
    head = room_heads(room_pks=[joined.pk]).get(joined.pk, 0)
    missed, has_more = selectors.message_history(
        room=joined, after=last_message_id, limit=settings.WS_HISTORY_MAX_LIMIT
    )
    seqs = [parse_message_id(m["id"]) or 0 for m in missed]
    if has_more:
        return [], missed, True, seqs[-1]
    return [], missed, False, max([head, *seqs])


def _recent(joined: JoinedRoom) -> tuple[list[dict], int]:
    """Return room_state's `recent` and the room's newest sequence number."""
    if not settings.WS_ROOM_STATE_RECENT:
        return [], room_heads(room_pks=[joined.pk]).get(joined.pk, 0)
    return selectors.message_recent(
        room_pk=joined.pk,
        room_id=joined.room_id,
        room_type=joined.room_type,
        limit=settings.WS_ROOM_STATE_RECENT,
    )
