"""Writes of the inbox, announcements, and the pushes that follow a Drama save.

Each write is one transaction; pushes go through `notifications.events`, after
commit, so
a rollback sends nothing and a channel layer that is down loses nothing: the row
is in the inbox and the client catches up on its next connection.
"""

from collections.abc import Iterable

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from chat.models import Drama
from notifications import events, frames, selectors
from notifications.models import (
    Announcement,
    BroadcastRead,
    Notification,
    NotificationType,
)

# Set on a Drama by the pre_save receiver: its stored values before this save.
PREVIOUS = "_notifications_previous"


@transaction.atomic
def notification_create(
    *,
    recipient_id: int,
    type: str,
    title: str,
    content: str,
    extra: dict | None = None,
) -> Notification:
    """Store a notification and push it to every connection of its recipient."""
    notification = Notification.objects.create(
        recipient_id=recipient_id,
        type=type,
        title=title,
        content=content,
        extra=extra or {},
    )
    events.notification_created(
        user_id=recipient_id, data=selectors.notification_data(notification)
    )
    return notification


@transaction.atomic
def notification_mark_read(*, user, notification_id: str) -> Notification:
    """Mark one notification of `user`'s inbox read; NotificationNotFound otherwise."""
    notification = selectors.notification_get_for_user(
        user=user, notification_id=notification_id
    )
    if notification.recipient_id is None:
        BroadcastRead.objects.bulk_create(
            [BroadcastRead(user=user, notification=notification)],
            ignore_conflicts=True,
        )
        notification.is_read = True
    elif notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user, up_to: int | None = None) -> int:
    """Mark `user`'s unread notifications read (those up to id `up_to` when given).

    Return how many were unread.
    """
    mine = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if up_to is not None:
        mine = mine.filter(id__lte=up_to)
    count = mine.update(read_at=timezone.now())
    broadcast_ids = selectors.unread_broadcast_ids(user=user, up_to=up_to)
    BroadcastRead.objects.bulk_create(
        [BroadcastRead(user=user, notification_id=pk) for pk in broadcast_ids],
        ignore_conflicts=True,
        batch_size=settings.NOTIFICATIONS_BULK_BATCH,
    )
    return count + len(broadcast_ids)


# --- announcements -------------------------------------------------------------------


@transaction.atomic
def announcement_create(
    *, title: str, content: str, created_by=None, recipients: Iterable | None = None
) -> Announcement:
    """Create and send an announcement: to everyone, or to `recipients` when given."""
    announcement = Announcement.objects.create(
        title=title,
        content=content,
        audience=(
            Announcement.Audience.EVERYONE
            if recipients is None
            else Announcement.Audience.USERS
        ),
        created_by=created_by,
    )
    if recipients is not None:
        announcement.recipients.set(recipients)
    announcement_publish(announcement=announcement)
    return announcement


@transaction.atomic
def announcement_publish(*, announcement: Announcement) -> None:
    """Put a saved announcement in its audience's inboxes and push it live.

    To everyone: ONE `Notification` row with no recipient, and ONE push on the
    `all` topic that each server process hands to every socket it holds. The
    admin request costs the same for ten users or ten million. Inbox queries
    merge these rows in for every user who joined before them; reading one
    writes a `BroadcastRead` mark for that user only, lazily, when they read it.
    Writing a row per user instead would be N inserts inside the request (a
    stalled admin page at a million users), and a background fan-out would need
    a task queue this project does not run, and would still leave the inbox
    incomplete until it finished.

    To chosen users: a row each, in batches, since a moderator picks them by
    hand and they each need their own read state; the pushes leave in one batch.
    Publishing an announcement twice does nothing the second time.
    """
    if announcement.notifications.exists():
        return
    fields = {
        "type": NotificationType.SYSTEM,
        "title": announcement.title,
        "content": announcement.content,
        "extra": {"announcementId": str(announcement.pk)},
        "announcement": announcement,
        "created_at": announcement.created_at,
    }
    if announcement.audience == Announcement.Audience.EVERYONE:
        notification = Notification.objects.create(recipient=None, **fields)
        events.announcement_sent(data=selectors.notification_data(notification))
        return
    user_ids = list(announcement.recipients.values_list("pk", flat=True))
    rows = Notification.objects.bulk_create(
        [Notification(recipient_id=uid, **fields) for uid in user_ids],
        batch_size=settings.NOTIFICATIONS_BULK_BATCH,
    )
    events.notifications_created(
        items=[(n.recipient_id, selectors.notification_data(n)) for n in rows]
    )


# --- dramas ------------------------------------------------------------------------


def _tracked_fields(update_fields: Iterable[str] | None) -> list[models.Field]:
    """Return the Drama fields a save may change (not the pk, not auto timestamps)."""
    names = set(update_fields) if update_fields is not None else None
    return [
        field
        for field in Drama._meta.concrete_fields
        if not field.primary_key
        and not getattr(field, "auto_now", False)
        and not getattr(field, "auto_now_add", False)
        and (names is None or field.name in names or field.attname in names)
    ]


def _wire_name(attname: str) -> str:
    head, *rest = attname.split("_")
    return head + "".join(part.title() for part in rest)


def drama_track_changes(*, drama: Drama, update_fields: Iterable[str] | None) -> None:
    """Called before a Drama is saved: remember the values this save may change."""
    previous = None
    if drama.pk is not None:
        attnames = [field.attname for field in _tracked_fields(update_fields)]
        previous = Drama.objects.filter(pk=drama.pk).values(*attnames).first()
    setattr(drama, PREVIOUS, previous)


def drama_changed_fields(drama: Drama) -> list[str]:
    """Return the wire names of the fields whose value this save really changed."""
    previous = drama.__dict__.pop(PREVIOUS, None)
    if not previous:
        return []
    return [
        _wire_name(field.attname)
        for field in _tracked_fields(None)
        if field.attname in previous
        and field.to_python(getattr(drama, field.attname)) != previous[field.attname]
    ]


@transaction.atomic
def drama_saved(*, drama: Drama) -> None:
    """Called after a Drama is saved: push drama_update when something changed, and
    tell the owner the outcome of a review."""
    changed = drama_changed_fields(drama)
    if not changed:
        return
    events.drama_updated(
        room_pks=selectors.drama_room_pks(drama_id=drama.pk),
        owner_id=drama.owner_id,
        frame=frames.drama_update(
            str(drama.pk), drama.title, drama.status, changed, drama.updated_at
        ),
    )
    if "status" in changed:
        drama_review_notify(drama=drama)


@transaction.atomic
def drama_review_notify(*, drama: Drama) -> Notification | None:
    """Send the owner a `review` notification when the drama was approved/rejected."""
    if drama.status == Drama.Status.APPROVED:
        title, content = "审核通过", f"您的短剧《{drama.title}》已审核通过"
    elif drama.status == Drama.Status.REJECTED:
        title = "审核未通过"
        reason = drama.review_note.strip()
        content = f"您的短剧《{drama.title}》未通过审核" + (
            f"，原因：{reason}" if reason else ""
        )
    else:
        return None
    return notification_create(
        recipient_id=drama.owner_id,
        type=NotificationType.REVIEW,
        title=title,
        content=content,
        extra={"dramaId": str(drama.pk), "status": drama.status},
    )
