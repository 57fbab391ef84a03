"""Moderation writes. Every path calls these (admin actions, change forms and
deletes, the live room page, `manage.py moderate`), so each has the same live
effect on every process and leaves one `ModerationLog` row.

Each returns whether anything changed: a repeat (hiding a hidden message,
closing a closed room) pushes nothing and logs nothing.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from chat import events
from chat.models import ChatMessage, ModerationLog, Room, Sanction
from chat.room_types import RULES
from realtime import control_on_commit, user_topic
from realtime.wire import iso

Action = ModerationLog.Action


def moderation_log(
    *,
    actor,
    action: str,
    target,
    room: Room | None = None,
    user=None,
    reason: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> ModerationLog:
    """Record one moderation action on `target` (a model instance)."""
    return ModerationLog.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor else "system",
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:200],
        room=room,
        user=user,
        reason=reason[:500],
        before=before,
        after=after,
    )


# --- messages ---------------------------------------------------------------------


@transaction.atomic
def message_hide(*, message: ChatMessage, actor=None, reason: str = "") -> bool:
    """Hide a message from history and tell its room to remove it."""
    if not ChatMessage.objects.filter(pk=message.pk, is_hidden=False).update(
        is_hidden=True
    ):
        return False
    message.is_hidden = True
    moderation_log(
        actor=actor,
        action=Action.MESSAGE_HIDE,
        target=message,
        room=message.room,
        user=message.sender,
        reason=reason,
        before={"is_hidden": False},
        after={"is_hidden": True},
    )
    events.message_deleted(room=message.room, message_id=message.public_id)
    return True


@transaction.atomic
def message_unhide(*, message: ChatMessage, actor=None, reason: str = "") -> bool:
    """Show a hidden message in history again (sockets that removed it keep it
    removed until they read history)."""
    if not ChatMessage.objects.filter(pk=message.pk, is_hidden=True).update(
        is_hidden=False
    ):
        return False
    message.is_hidden = False
    moderation_log(
        actor=actor,
        action=Action.MESSAGE_UNHIDE,
        target=message,
        room=message.room,
        user=message.sender,
        reason=reason,
        before={"is_hidden": True},
        after={"is_hidden": False},
    )
    return True


# --- sanctions --------------------------------------------------------------------


def _state(sanction: Sanction) -> dict:
    return {
        "kind": sanction.kind,
        "room": sanction.room.room_id if sanction.room_id else None,
        "endsAt": iso(sanction.ends_at) if sanction.ends_at else None,
        "reason": sanction.reason,
    }


def _enforce(sanction: Sanction) -> None:
    """Close the banned user's sockets (4003): in the room, or all of them."""
    if sanction.kind != Sanction.Kind.BAN or not sanction.is_active():
        return
    if sanction.room_id:
        events.user_kicked(room=sanction.room, user_id=sanction.user_id)
    else:
        control_on_commit(
            user_topic(sanction.user_id),
            {"action": "kick", "userId": str(sanction.user_id)},
        )


@transaction.atomic
def sanction_apply(
    *,
    user,
    kind: str,
    reason: str,
    room: Room | None = None,
    ends_at: datetime | None = None,
    actor=None,
) -> Sanction:
    """Ban or mute `user` in `room` (None: site-wide) until `ends_at` (None:
    for good). An active sanction of the same kind and place is replaced."""
    now = timezone.now()
    sanction = (
        Sanction.objects.filter(user=user, room=room, kind=kind)
        .exclude(ends_at__lte=now)
        .order_by("-pk")
        .first()
    )
    before = None
    if sanction is None:
        sanction = Sanction(user=user, room=room, kind=kind)
    else:
        before = _state(sanction)
    sanction.ends_at, sanction.reason, sanction.created_by = ends_at, reason, actor
    sanction.save()
    moderation_log(
        actor=actor,
        action=Action.BAN if kind == Sanction.Kind.BAN else Action.MUTE,
        target=sanction,
        room=room,
        user=user,
        reason=reason,
        before=before,
        after=_state(sanction),
    )
    _enforce(sanction)
    return sanction


@transaction.atomic
def sanction_update(
    *, sanction: Sanction, ends_at: datetime | None, reason: str, actor=None
) -> bool:
    """Change a sanction's end or reason (a ban in force again closes the user's
    sockets again). `sanction` may hold the new values already (a change form)."""
    stored = Sanction.objects.select_related("room", "user").get(pk=sanction.pk)
    before = _state(stored)
    stored.ends_at, stored.reason = ends_at, reason
    if _state(stored) == before:
        return False
    stored.save(update_fields=["ends_at", "reason"])
    sanction.ends_at, sanction.reason = ends_at, reason
    moderation_log(
        actor=actor,
        action=Action.SANCTION_CHANGE,
        target=stored,
        room=stored.room,
        user=stored.user,
        reason=reason,
        before=before,
        after=_state(stored),
    )
    _enforce(stored)
    return True


@transaction.atomic
def sanction_lift(*, sanction: Sanction, actor=None, reason: str = "") -> bool:
    """End an active sanction now."""
    now = timezone.now()
    if not sanction.is_active(now):
        return False
    before = _state(sanction)
    sanction.ends_at = now
    sanction.save(update_fields=["ends_at"])
    moderation_log(
        actor=actor,
        action=Action.SANCTION_LIFT,
        target=sanction,
        room=sanction.room,
        user=sanction.user,
        reason=reason,
        before=before,
        after=_state(sanction),
    )
    return True


@transaction.atomic
def senders_sanction(
    *,
    messages: list[ChatMessage],
    kind: str,
    site_wide: bool,
    ends_at: datetime | None,
    reason: str,
    actor=None,
) -> list[Sanction]:
    """Ban or mute the senders of `messages`, each in the message's room or
    site-wide; once per user and place. The assistant's replies are skipped."""
    targets: dict[tuple, tuple] = {}
    for message in messages:
        if message.sender_id is None:
            continue
        room = None if site_wide else message.room
        targets.setdefault(
            (message.sender_id, room.pk if room else None), (message.sender, room)
        )
    return [
        sanction_apply(
            user=user, room=room, kind=kind, ends_at=ends_at, reason=reason, actor=actor
        )
        for user, room in targets.values()
    ]


# --- rooms ------------------------------------------------------------------------


@transaction.atomic
def room_close(*, room: Room, actor=None, reason: str = "") -> bool:
    """Close a room: its sockets are told and taken out; nobody joins or chats."""
    if not Room.objects.filter(pk=room.pk, is_closed=False).update(is_closed=True):
        return False
    room.is_closed = True
    moderation_log(
        actor=actor,
        action=Action.ROOM_CLOSE,
        target=room,
        room=room,
        reason=reason,
        before={"is_closed": False},
        after={"is_closed": True},
    )
    events.room_closed(room=room)
    return True


@transaction.atomic
def room_reopen(*, room: Room, actor=None, reason: str = "") -> bool:
    """Open a closed room again (clients join it again themselves)."""
    if not Room.objects.filter(pk=room.pk, is_closed=True).update(is_closed=False):
        return False
    room.is_closed = False
    moderation_log(
        actor=actor,
        action=Action.ROOM_REOPEN,
        target=room,
        room=room,
        reason=reason,
        before={"is_closed": True},
        after={"is_closed": False},
    )
    return True


@transaction.atomic
def room_slow_mode_set(
    *, room: Room, seconds: int | None, actor=None, reason: str = ""
) -> bool:
    """Set a room's slow mode (None: its type's default; 0: off). Every process
    applies it within `chat.slow_mode.ROOM_SETTINGS_TTL`."""
    before = Room.objects.filter(pk=room.pk).values_list(
        "slow_mode_seconds", flat=True
    )[0]
    room.slow_mode_seconds = seconds
    if before == seconds:
        return False
    Room.objects.filter(pk=room.pk).update(slow_mode_seconds=seconds)
    moderation_log(
        actor=actor,
        action=Action.ROOM_SLOW_MODE,
        target=room,
        room=room,
        reason=reason,
        before={"slow_mode_seconds": before},
        after={"slow_mode_seconds": seconds},
    )
    return True


@transaction.atomic
def room_danmaku_rate_set(
    *, room: Room, rate: int | None, actor=None, reason: str = ""
) -> bool:
    """Set a live room's danmaku rate (None: LIVE_DANMAKU_RATE; 0: off); every
    process serving the room applies it at once (`chat.density`)."""
    before = Room.objects.filter(pk=room.pk).values_list("danmaku_rate", flat=True)[0]
    room.danmaku_rate = rate
    if before == rate:
        return False
    Room.objects.filter(pk=room.pk).update(danmaku_rate=rate)
    moderation_log(
        actor=actor,
        action=Action.ROOM_DANMAKU_RATE,
        target=room,
        room=room,
        reason=reason,
        before={"danmaku_rate": before},
        after={"danmaku_rate": rate},
    )
    events.room_danmaku_rate(room=room, rate=RULES[room.room_type].danmaku_rate(rate))
    return True


@transaction.atomic
def room_delete(*, room: Room, actor=None, reason: str = "") -> None:
    """Delete a room with its history; its sockets are told it closed."""
    moderation_log(
        actor=actor,
        action=Action.ROOM_DELETE,
        target=room,
        reason=reason,
        before={"room_id": room.room_id, "room_type": room.room_type},
    )
    events.room_closed(room=room)
    room.delete()
