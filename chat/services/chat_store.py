"""The SQL of storing a batch of chats: the hot write path, hand-written.

One batch is the chats that arrived while the previous one was being written
(`chat.writer`). For each chat: return the stored message when the same user
already stored its `client_msg_id` in that room, refuse a sender banned or
muted there or site-wide (`chat.models.Sanction`), hand out the room's next
sequence numbers under the room's row lock (so ids in a room follow commit
order), insert.

Four statements in one transaction. The ORM is not used: building its queries
cost more than running them (docs/architecture.md, "Measured choices").
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction

from chat.exceptions import ClientError, Forbidden, Muted, RoomClosed
from chat.frames import chat_data, message_data
from chat.models import ChatMessage, Room, Sanction, format_message_id
from chat.selectors import user_display_name
from realtime.wire import iso


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

INSERT_COLUMNS = (
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


def chats_store(cands: list[tuple[int, ChatDraft]], now) -> dict[int, Outcome]:
    """Store drafts (keyed by the caller's index); return each one's outcome.

    No two drafts share (room, user, client_msg_id). Raises IntegrityError when
    a concurrent writer stored one of the same client_msg_ids first.
    """
    if not cands:
        return {}
    return _store_in_transaction(cands, now)


def take_seqs(counts: dict[int, int]) -> dict[int, range]:
    """Lock the rooms' rows and hand out each room's next `count` numbers.

    One statement for the whole batch (PostgreSQL and SQLite >= 3.35 both have
    RETURNING). A closed room is left out of the answer.
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


def _aware(value) -> datetime:
    """A datetime column read by a raw query: SQLite gives text, PostgreSQL an
    aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _muted(until: datetime | None) -> ClientError:
    """The refusal of a muted sender; `until` is None for a mute without end."""
    if until is None:
        return Muted("you are muted", extra={"until": None})
    stamp = iso(until)
    return Muted(f"muted until {stamp}", extra={"until": stamp})


def _row(d: ChatDraft, seq: int, created) -> tuple:
    """The INSERT_COLUMNS values of a draft."""
    return (
        d.room_pk,
        seq,
        d.user.pk,
        user_display_name(d.user),
        d.text,
        d.message_type,
        d.client_msg_id,
        "",
        d.episode,
        d.playback_ms,
        False,
        created,
    )


def _settle(
    cands: list[tuple[int, ChatDraft]],
    now,
    stored: dict[tuple, ChatMessage],
    refused: dict[tuple, ClientError],
    seqs: dict[int, list[tuple[int, int]]],
) -> dict[int, Outcome]:
    """Outcomes from what the database said: earlier copies, refusals, and each
    room's new (seq, id) pairs, handed to its accepted drafts in order."""
    outcomes: dict[int, Outcome] = {}
    timestamp = iso(now)
    for i, d in cands:
        key = (d.room_pk, d.user.pk, d.client_msg_id)
        if d.client_msg_id and key in stored:
            outcomes[i] = (message_data(stored[key], d.room_id), False)
        elif (d.room_pk, d.user.pk) in refused:
            outcomes[i] = refused[(d.room_pk, d.user.pk)]
        elif not seqs.get(d.room_pk):
            outcomes[i] = RoomClosed()
        else:
            seq, pk = seqs[d.room_pk].pop(0)
            data = chat_data(
                message_id=format_message_id(seq, pk),
                room_id=d.room_id,
                sender_id=d.user.pk,
                sender_name=user_display_name(d.user),
                text=d.text,
                message_type=d.message_type,
                timestamp=timestamp,
                client_msg_id=d.client_msg_id,
                episode=d.episode,
                playback_ms=d.playback_ms,
            )
            outcomes[i] = (data, True)
    return outcomes


@transaction.atomic
def _store_in_transaction(cands, now) -> dict[int, Outcome]:
    drafts = [d for _, d in cands]
    stored = _stored_duplicates(drafts)
    refused = _sanction_refusals(drafts, now)
    fresh = [
        d
        for d in drafts
        if not (d.client_msg_id and (d.room_pk, d.user.pk, d.client_msg_id) in stored)
        and (d.room_pk, d.user.pk) not in refused
    ]
    counts: dict[int, int] = {}
    for d in fresh:
        counts[d.room_pk] = counts.get(d.room_pk, 0) + 1
    taken = take_seqs(counts) if counts else {}
    accepted = [d for d in fresh if d.room_pk in taken]  # others: room closed
    handed = {pk: iter(numbers) for pk, numbers in taken.items()}
    created = connection.ops.adapt_datetimefield_value(now)
    rows = [_row(d, next(handed[d.room_pk]), created) for d in accepted]
    seqs: dict[int, list[tuple[int, int]]] = {}
    for pk, room_pk, seq in _insert(rows):
        seqs.setdefault(room_pk, []).append((seq, pk))
    for pairs in seqs.values():
        pairs.sort()
    return _settle(cands, now, stored, refused, seqs)


def _stored_duplicates(drafts: list[ChatDraft]) -> dict[tuple, ChatMessage]:
    keyed = [d for d in drafts if d.client_msg_id]
    if not keyed:
        return {}
    table = ChatMessage._meta.db_table
    where = " OR ".join(
        "(room_id = %s AND sender_id = %s AND client_msg_id = %s)" for _ in keyed
    )
    params = [v for d in keyed for v in (d.room_pk, d.user.pk, d.client_msg_id)]
    rows = ChatMessage.objects.raw(f"SELECT * FROM {table} WHERE {where}", params)
    return {(m.room_id, m.sender_id, m.client_msg_id): m for m in rows}


def _sanction_refusals(drafts: list[ChatDraft], now) -> dict[tuple, ClientError]:
    """Return the refusal of each (room, user) under an active ban or mute, in
    the room or site-wide: one query for the batch."""
    rooms = sorted({d.room_pk for d in drafts})
    users = sorted({d.user.pk for d in drafts})
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT user_id, room_id, kind, ends_at "
            f"FROM {Sanction._meta.db_table} "
            f"WHERE user_id IN ({', '.join(['%s'] * len(users))}) "
            f"AND (room_id IS NULL OR room_id IN ({', '.join(['%s'] * len(rooms))})) "
            "AND (ends_at IS NULL OR ends_at > %s)",
            [*users, *rooms, connection.ops.adapt_datetimefield_value(now)],
        )
        found = cursor.fetchall()
    bans: set[tuple] = set()  # (user, room; None: site-wide)
    mutes: dict[tuple, datetime | None] = {}  # the latest end; None: for good
    for user_pk, room_pk, kind, ends_at in found:
        place = (user_pk, room_pk)
        if kind == Sanction.Kind.BAN:
            bans.add(place)
            continue
        end = None if ends_at is None else _aware(ends_at)
        if place not in mutes:
            mutes[place] = end
        elif mutes[place] is not None:
            mutes[place] = None if end is None else max(mutes[place], end)
    refusals: dict[tuple, ClientError] = {}
    for d in drafts:
        places = ((d.user.pk, d.room_pk), (d.user.pk, None))
        ends = [mutes[p] for p in places if p in mutes]
        if any(p in bans for p in places):
            refusals[(d.room_pk, d.user.pk)] = Forbidden(
                "you are banned from this room"
            )
        elif ends:
            refusals[(d.room_pk, d.user.pk)] = _muted(
                None if None in ends else max(ends)
            )
    return refusals


def _insert(rows: list[tuple]) -> list[tuple[int, int, int]]:
    """INSERT the rows (INSERT_COLUMNS values) in one statement; return their
    (id, room, seq)."""
    if not rows:
        return []
    values = ", ".join(
        ["(" + ", ".join(["%s"] * len(INSERT_COLUMNS)) + ")"] * len(rows)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ChatMessage._meta.db_table} ({', '.join(INSERT_COLUMNS)}) "
            f"VALUES {values} RETURNING id, room_id, seq",
            [value for row in rows for value in row],
        )
        return cursor.fetchall()
