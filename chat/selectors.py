"""Reads: rooms a user may see, chat history, who is in a room. Shared by the socket
and REST."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet, Subquery
from django.utils import timezone

from chat.exceptions import InvalidMessage, RoomNotFound
from chat.frames import message_data, room_data
from chat.models import (
    ChatMessage,
    Room,
    RoomMember,
    RoomType,
    Sanction,
    parse_message_id,
)
from chat.room_types import RoomRef
from realtime import runtime
from realtime.rows import model_rows
from realtime.wire import iso

DEFAULT_HISTORY_LIMIT = 50
DEFAULT_MEMBERS_LIMIT = 100
MAX_MEMBERS_LIMIT = 500


def user_display_name(user) -> str:
    return (user.get_full_name() or user.get_username())[:150]


def room_visible_q(user) -> Q:
    """Return the rule for rooms `user` may see: an assistant room is its owner's."""
    return ~(Q(room_type=RoomType.AI_ASSISTANT) & ~Q(owner_id=user.pk))


def rooms_for_user(*, user, room_type: str | None = None) -> QuerySet[Room]:
    """Return the rooms `user` may see, optionally of one type."""
    rooms = Room.objects.filter(room_visible_q(user))
    if room_type:
        rooms = rooms.filter(room_type=room_type)
    return rooms.order_by("room_type", "room_id")


def room_get_for_user(*, room_id: str, user) -> Room:
    """Return the room, or raise RoomNotFound, the same whether missing or private."""
    room = Room.objects.filter(room_id=room_id).first()
    if room is None or not room_visible_to(room=room, user=user):
        raise RoomNotFound()
    return room


def room_get_for_join(*, room_id: str, user) -> tuple[Room, bool]:
    """Return the room and whether `user` is banned from it (there or site-wide,
    an active `Sanction`), in one query (every join runs it); RoomNotFound
    exactly as `room_get_for_user` raises it."""
    rooms, sanctions = Room._meta.db_table, Sanction._meta.db_table
    found = model_rows(
        Room,
        f"SELECT r.*, EXISTS (SELECT 1 FROM {sanctions} s WHERE s.user_id = %s"
        " AND (s.room_id = r.id OR s.room_id IS NULL) AND s.kind = %s"
        " AND (s.ends_at IS NULL OR s.ends_at > %s)) AS banned"
        f" FROM {rooms} r WHERE r.room_id = %s",
        [
            user.pk,
            Sanction.Kind.BAN.value,
            connection.ops.adapt_datetimefield_value(timezone.now()),
            room_id,
        ],
    )
    if not found or not room_visible_to(room=found[0], user=user):
        raise RoomNotFound()
    return found[0], bool(found[0].banned)


def room_visible_to(*, room: Room, user) -> bool:
    if room.room_type == RoomType.AI_ASSISTANT:
        return room.owner_id == user.pk
    return True


def rooms_slow_mode(*, room_pks: list[int]) -> dict[int, tuple[str, int | None]]:
    """Return each existing room's type and own slow-mode seconds, by pk."""
    rows = Room.objects.filter(pk__in=room_pks).values_list(
        "pk", "room_type", "slow_mode_seconds"
    )
    return {pk: (room_type, own) for pk, room_type, own in rows}


def room_presence_key(room_pk: int) -> str:
    """Return the presence-store key of a room (who is in it, on every process)."""
    return f"room.{int(room_pk)}"


async def room_online_count(*, room_pk: int) -> int:
    """Return how many distinct users are in the room now, over every process."""
    return await runtime().presence.count(room_presence_key(room_pk))


async def room_online_users(*, room_pk: int, limit: int) -> list[int]:
    """Return the ids of up to `limit` users in the room now, over every process."""
    found = await runtime().presence.users(room_presence_key(room_pk), limit)
    return [int(user_id) for user_id in found]


def room_detail_data(room: Room, *, online_count: int, slow_mode: float) -> dict:
    """Return the REST shape of one room."""
    return {
        **room_data(room),
        "isClosed": room.is_closed,
        "onlineCount": online_count,
        "slowModeSeconds": slow_mode,
        "ownerId": str(room.owner_id) if room.owner_id else None,
        "dramaId": str(room.drama_id) if room.drama_id else None,
    }


def room_members(
    *, room: Room, limit: int | None = None, offset: int = 0
) -> tuple[list[dict], int]:
    """Return (a page of the room's members, oldest first, total); those banned
    from it (there or site-wide) excluded."""
    limit = max(1, min(limit or DEFAULT_MEMBERS_LIMIT, MAX_MEMBERS_LIMIT))
    banned = sanctions_active().filter(
        Q(room=room) | Q(room__isnull=True), kind=Sanction.Kind.BAN
    )
    members = RoomMember.objects.filter(room=room).exclude(
        user_id__in=banned.values("user_id")
    )
    page = members.select_related("user").order_by("joined_at", "pk")[
        offset : offset + limit
    ]
    return [
        {
            "userId": str(m.user_id),
            "userName": user_display_name(m.user),
            "joinedAt": iso(m.joined_at),
        }
        for m in page
    ], members.count()


def sanctions_active(now: datetime | None = None) -> QuerySet[Sanction]:
    """Return the sanctions in force: no end, or an end still to come."""
    return Sanction.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now or timezone.now())
    )


def site_ban_of(*, user_pk: int) -> Sanction | None:
    """Return the site-wide ban in force on a user, if any (the latest to end).
    One hand-written query: every connect runs it, and compiling the ORM
    query cost more than running it."""
    found = model_rows(
        Sanction,
        f"SELECT * FROM {Sanction._meta.db_table} WHERE user_id = %s"
        " AND room_id IS NULL AND kind = %s"
        " AND (ends_at IS NULL OR ends_at > %s)"
        " ORDER BY ends_at IS NULL DESC, ends_at DESC LIMIT 1",
        [
            user_pk,
            Sanction.Kind.BAN.value,
            connection.ops.adapt_datetimefield_value(timezone.now()),
        ],
    )
    return found[0] if found else None


def assistant_prompt_times(*, user, window: timedelta, limit: int) -> list[datetime]:
    """Return when `user` last wrote to the assistant within `window`, newest first."""
    return list(
        ChatMessage.objects.filter(
            sender=user,
            room__room_type=RoomType.AI_ASSISTANT,
            created_at__gte=timezone.now() - window,
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )


def assistant_context(*, room: RoomRef, before: str, limit: int) -> list[dict]:
    """Return the conversation before message `before` as backend history turns."""
    if limit < 1:
        return []
    messages, _ = message_history(room=room, before=before, limit=limit)
    return [
        {
            "role": "assistant" if m["senderId"] == "assistant" else "user",
            "content": m["message"],
        }
        for m in messages
    ]


def history_cutoff(room_type: str) -> datetime | None:
    """Return the time before which a room type's history has expired, if it does."""
    hours = settings.ROOM_HISTORY_RETENTION_HOURS.get(room_type) or 0
    if hours <= 0:
        return None
    return timezone.now() - timedelta(hours=hours)


def message_history(
    *,
    room: RoomRef,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = None,
    episode: int | None = None,
    from_ms: int | None = None,
    to_ms: int | None = None,
) -> tuple[list[dict], bool]:
    """Return (messages oldest first, hasMore) of a room; one query.

    With `after`: the next messages after it (hasMore: newer ones remain).
    Otherwise the latest ones, or those before `before` (hasMore: older remain).
    With `episode`: danmaku of that episode between fromMs and toMs, in playback
    order; `after` then continues after that message in playback order.
    Messages past the room type's retention window are never returned.
    """
    limit = max(1, min(limit or DEFAULT_HISTORY_LIMIT, settings.WS_HISTORY_MAX_LIMIT))
    rows = ChatMessage.objects.filter(room_id=room.pk, is_hidden=False)
    cutoff = history_cutoff(room.room_type) if room.room_type else None
    if cutoff is not None:
        rows = rows.filter(created_at__gte=cutoff)
    if episode is not None:
        if before:
            raise InvalidMessage("'before' does not combine with 'episode'")
        rows = rows.filter(episode=episode, playback_ms__isnull=False)
        if from_ms is not None:
            rows = rows.filter(playback_ms__gte=from_ms)
        if to_ms is not None:
            rows = rows.filter(playback_ms__lte=to_ms)
        if after:
            # Keyset on (playbackMs, seq), the anchor's position read in the query.
            seq = parse_message_id(after)
            anchor = Subquery(
                ChatMessage.objects.filter(room_id=room.pk, seq=seq).values(
                    "playback_ms"
                )[:1]
            )
            rows = rows.filter(
                Q(playback_ms__gt=anchor) | Q(playback_ms=anchor, seq__gt=seq)
            )
        found = list(rows.order_by("playback_ms", "seq")[: limit + 1])
        return [message_data(m, room.room_id) for m in found[:limit]], len(
            found
        ) > limit
    if after:
        rows = rows.filter(seq__gt=parse_message_id(after))
        if before:
            rows = rows.filter(seq__lt=parse_message_id(before))
        found = list(rows.order_by("seq")[: limit + 1])
        return [message_data(m, room.room_id) for m in found[:limit]], len(
            found
        ) > limit
    if before:
        rows = rows.filter(seq__lt=parse_message_id(before))
    found = list(rows.order_by("-seq")[: limit + 1])
    page = found[:limit]
    page.reverse()
    return [message_data(m, room.room_id) for m in page], len(found) > limit


def message_recent(
    *, room_pk: int, room_id: str, room_type: str, limit: int
) -> tuple[list, int]:
    """Return a room's latest `limit` messages, oldest first (`message_history`
    with no anchor), and the room's newest sequence number, read together in
    one hand-written statement: room_state's `recent`, read on every join
    (compiling the ORM query cost more than running it)."""
    table, rooms = ChatMessage._meta.db_table, Room._meta.db_table
    cutoff = history_cutoff(room_type)
    since = " AND m.created_at >= %s" if cutoff is not None else ""
    params = [*([cutoff] if cutoff is not None else []), room_pk, limit]
    rows = model_rows(
        ChatMessage,
        f"SELECT m.*, r.last_seq AS room_head FROM {rooms} r"
        f" LEFT JOIN {table} m ON m.room_id = r.id AND NOT m.is_hidden{since}"
        " WHERE r.id = %s ORDER BY m.seq DESC LIMIT %s",
        params,
    )
    head = rows[0].room_head if rows else 0
    found = [m for m in reversed(rows) if m.pk is not None]  # None: no messages
    return [message_data(m, room_id) for m in found], head
