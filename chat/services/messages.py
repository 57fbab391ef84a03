"""Chat writes. Chats are stored in batches: every chat that arrived while the
previous batch was being written is stored at once (group commit; see
`chat.writer`); the SQL is in `chat.services.chat_store`."""

from dataclasses import replace
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat.exceptions import ClientError, ContentBlocked, RoomClosed
from chat.frames import message_data
from chat.models import ChatMessage, Room
from chat.room_types import RoomRef
from chat.services.chat_store import ChatDraft, Outcome, chats_store, take_seqs
from chat.words import screen


def messages_create(drafts: list[ChatDraft]) -> list[Outcome]:
    """Store users' chats atomically; return one outcome per draft.

    Each text is screened first (`chat.words`): a blocked word refuses it with
    `content_blocked`, a masked one is stored and sent as ＊.

    A repeat of a `client_msg_id` by the same user in the same room (already
    stored, or twice in this batch) returns the stored message, not stored again.
    """
    now = timezone.now()
    outcomes: list[Outcome | int | None] = [None] * len(drafts)
    first_of: dict[tuple, int] = {}
    cands: list[tuple[int, ChatDraft]] = []
    for i, d in enumerate(drafts):
        key = (d.room_pk, d.user.pk, d.client_msg_id)
        if d.client_msg_id and key in first_of:
            outcomes[i] = first_of[key]  # resolved below, after the store
        else:
            screened = screen(d.text)
            if screened.blocked:
                outcomes[i] = ContentBlocked()
                continue
            cands.append((i, replace(d, text=screened.text) if screened.masked else d))
            if d.client_msg_id:
                first_of[key] = i
    for i, outcome in chats_store(cands, now).items():
        outcomes[i] = outcome
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, int):  # a repeat inside this batch
            original = outcomes[outcome]
            outcomes[i] = (
                (original[0], False) if isinstance(original, tuple) else original
            )
    return outcomes


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


def _next_seq(room_pk: int) -> int:
    """Hand out a room's next number; RoomClosed if it is closed."""
    seqs = take_seqs({room_pk: 1})
    if room_pk not in seqs:
        raise RoomClosed()
    return seqs[room_pk][0]


@transaction.atomic
def assistant_message_create(*, room: RoomRef, text: str, reply_to: str) -> dict:
    """Store the AI assistant's reply, screened as users' chats are (a blocked
    word raises ContentBlocked: nothing is stored); return its wire data."""
    screened = screen(text)
    if screened.blocked:
        raise ContentBlocked("the assistant's reply was refused by the filter")
    message = ChatMessage.objects.create(
        room_id=room.pk,
        seq=_next_seq(room.pk),
        sender=None,
        sender_name=settings.AI_ASSISTANT_NAME,
        message=screened.text,
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
