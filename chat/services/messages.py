"""Chat writes. Chats are stored in batches: one transaction, one sequence update
per room and one INSERT for every chat that arrived while the previous batch was
being written (group commit; see `chat.batching`)."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chat.exceptions import ClientError, ContentBlocked, Forbidden, Muted, RoomClosed
from chat.models import ChatMessage, Room, RoomMember
from chat.selectors import message_data, user_display_name


@dataclass(frozen=True)
class ChatDraft:
    """A user's chat, validated, waiting to be stored."""

    room_pk: int
    room_id: str
    user: object
    text: str
    message_type: str = "text"
    client_msg_id: str | None = None
    episode: int | None = None
    playback_ms: int | None = None


# What storing one draft gave: (wire data, whether it is new) or the refusal.
Outcome = tuple[dict, bool] | ClientError


def _take_seqs(counts: dict[int, int]) -> dict[int, range]:
    """Lock the rooms' rows and hand out each room's next `count` numbers.

    One statement for the whole batch, so ids in a room follow commit order
    (PostgreSQL and SQLite >= 3.35 both have RETURNING). Rows are taken in id
    order. A closed room is left out of the answer.
    """
    room_pks = sorted(counts)
    cases = " ".join("WHEN %s THEN %s" for _ in room_pks)
    params = [value for pk in room_pks for value in (pk, counts[pk])]
    marks = ", ".join("%s" for _ in room_pks)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Room._meta.db_table} SET last_seq = last_seq + CASE id {cases} "
            f"END WHERE id IN ({marks}) AND NOT is_closed RETURNING id, last_seq",
            [*params, *room_pks],
        )
        rows = cursor.fetchall()
    return {pk: range(last - counts[pk] + 1, last + 1) for pk, last in rows}


def _next_seqs(room_pk: int, count: int) -> range:
    """Hand out one room's next `count` numbers; RoomClosed if it is closed."""
    seqs = _take_seqs({room_pk: count})
    if room_pk not in seqs:
        raise RoomClosed()
    return seqs[room_pk]


def _blocked(text: str) -> bool:
    lowered = text.lower()
    return any(word and word in lowered for word in settings.CHAT_BLOCKED_WORDS)


def _stored_duplicates(drafts: list[ChatDraft]) -> dict[tuple, ChatMessage]:
    keyed = [d for d in drafts if d.client_msg_id]
    if not keyed:
        return {}
    # Hand-written SQL: this runs for nearly every chat (clients send clientMsgId)
    # and the ORM's query building costs more than the query.
    table = ChatMessage._meta.db_table
    where = " OR ".join(
        "(room_id = %s AND sender_id = %s AND client_msg_id = %s)" for _ in keyed
    )
    params = [v for d in keyed for v in (d.room_pk, d.user.pk, d.client_msg_id)]
    rows = ChatMessage.objects.raw(f"SELECT * FROM {table} WHERE {where}", params)
    return {(m.room_id, m.sender_id, m.client_msg_id): m for m in rows}


def _member_refusals(drafts: list[ChatDraft], now) -> dict[tuple, ClientError]:
    """Return the refusal of each (room, user) that is banned or muted."""
    rooms = sorted({d.room_pk for d in drafts})
    users = sorted({d.user.pk for d in drafts})
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT room_id, user_id, is_banned, muted_until "
            f"FROM {RoomMember._meta.db_table} "
            f"WHERE room_id IN ({', '.join(['%s'] * len(rooms))}) "
            f"AND user_id IN ({', '.join(['%s'] * len(users))}) "
            "AND (is_banned OR muted_until > %s)",
            [*rooms, *users, connection.ops.adapt_datetimefield_value(now)],
        )
        found = cursor.fetchall()
    refusals: dict[tuple, ClientError] = {}
    for room_pk, user_pk, banned, muted_until in found:
        refusals[(room_pk, user_pk)] = (
            Forbidden("you are banned from this room")
            if banned
            else Muted(f"muted until {_iso(muted_until)}")
        )
    return refusals


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@transaction.atomic
def messages_create(drafts: list[ChatDraft]) -> list[Outcome]:
    """Store users' chats in one transaction; return one outcome per draft.

    A repeat of a `client_msg_id` by the same user in the same room (already
    stored, or twice in this batch) returns the stored message, not stored again.
    """
    now = timezone.now()
    outcomes: list[Outcome | None] = [None] * len(drafts)
    stored = _stored_duplicates(drafts)
    refusals = _member_refusals(drafts, now)
    pending: dict[int, list[int]] = {}
    first_of: dict[tuple, int] = {}
    for i, d in enumerate(drafts):
        key = (d.room_pk, d.user.pk, d.client_msg_id)
        if d.client_msg_id and key in stored:
            outcomes[i] = (message_data(stored[key], d.room_id), False)
        elif d.client_msg_id and key in first_of:
            outcomes[i] = first_of[key]  # resolved below, after the insert
        elif _blocked(d.text):
            outcomes[i] = ContentBlocked()
        else:
            refusal = refusals.get((d.room_pk, d.user.pk))
            if refusal is not None:
                outcomes[i] = refusal
            else:
                pending.setdefault(d.room_pk, []).append(i)
                if d.client_msg_id:
                    first_of[key] = i
    rows: list[tuple[int, ChatMessage]] = []
    taken = _take_seqs({pk: len(ix) for pk, ix in pending.items()}) if pending else {}
    for room_pk, indexes in pending.items():
        seqs = taken.get(room_pk)
        if seqs is None:
            for i in indexes:
                outcomes[i] = RoomClosed()
            continue
        rows += [
            (i, _row(drafts[i], seq)) for i, seq in zip(indexes, seqs, strict=True)
        ]
    _insert([row for _, row in rows], now)
    for i, row in rows:
        outcomes[i] = (message_data(row, drafts[i].room_id), True)
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, int):  # a repeat inside this batch
            original = outcomes[outcome]
            outcomes[i] = (
                (original[0], False) if isinstance(original, tuple) else original
            )
    return outcomes


def _row(d: ChatDraft, seq: int) -> ChatMessage:
    return ChatMessage(
        room_id=d.room_pk,
        seq=seq,
        sender_id=d.user.pk,
        sender_name=user_display_name(d.user),
        message=d.text,
        message_type=d.message_type,
        client_msg_id=d.client_msg_id,
        episode=d.episode,
        playback_ms=d.playback_ms,
    )


_INSERT_COLUMNS = (
    "room_id",
    "seq",
    "sender_id",
    "sender_name",
    "message",
    "message_type",
    "client_msg_id",
    "reply_to",
    "episode",
    "playback_ms",
    "is_hidden",
    "created_at",
)


def _insert(rows: list[ChatMessage], now) -> None:
    """INSERT the rows in one statement and set their ids (what bulk_create does,
    without its per-field machinery: this is the chat hot path)."""
    if not rows:
        return
    created = connection.ops.adapt_datetimefield_value(now)
    values = ", ".join(
        ["(" + ", ".join(["%s"] * len(_INSERT_COLUMNS)) + ")"] * len(rows)
    )
    params = []
    for r in rows:
        r.created_at, r.reply_to = now, ""
        params += [
            r.room_id,
            r.seq,
            r.sender_id,
            r.sender_name,
            r.message,
            r.message_type,
            r.client_msg_id,
            "",
            r.episode,
            r.playback_ms,
            False,
            created,
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ChatMessage._meta.db_table} ({', '.join(_INSERT_COLUMNS)}) "
            f"VALUES {values} RETURNING id",
            params,
        )
        ids = [row[0] for row in cursor.fetchall()]
    for row, pk in zip(rows, ids, strict=True):
        row.pk = pk


def messages_create_safely(drafts: list[ChatDraft]) -> list[Outcome]:
    """`messages_create`; when a concurrent writer stored one of the same
    `client_msg_id`s first, store the drafts one by one so only that one repeats."""
    try:
        return messages_create(drafts)
    except IntegrityError:
        if len(drafts) == 1:
            return messages_create(drafts)
        return [outcome for d in drafts for outcome in messages_create_safely([d])]


def message_create(*, room: Room, user, text: str, **fields) -> tuple[dict, bool]:
    """Store one chat; return (its wire data, whether it is new) or raise."""
    draft = ChatDraft(
        room_pk=room.pk, room_id=room.room_id, user=user, text=text, **fields
    )
    outcome = messages_create_safely([draft])[0]
    if isinstance(outcome, ClientError):
        raise outcome
    return outcome


@transaction.atomic
def assistant_message_create(*, room: Room, text: str, reply_to: str) -> dict:
    """Store the AI assistant's reply; return its wire data."""
    message = ChatMessage.objects.create(
        room=room,
        seq=_next_seqs(room.pk, 1)[0],
        sender=None,
        sender_name=settings.AI_ASSISTANT_NAME,
        message=text,
        reply_to=reply_to,
    )
    return message_data(message, room.room_id)


@transaction.atomic
def messages_expired_purge(
    *, room_type: str, older_than: datetime, batch_size: int = 1000
) -> int:
    """Delete one batch of a room type's messages created before `older_than`.

    Return how many were deleted; call until it returns 0. Batches keep each
    transaction (and its locks) short on a busy table.
    """
    batch = list(
        ChatMessage.objects.filter(room__room_type=room_type, created_at__lt=older_than)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    if not batch:
        return 0
    deleted, _ = ChatMessage.objects.filter(pk__in=batch).delete()
    return deleted
