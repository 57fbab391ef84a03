"""Reads of the inbox, shared by the socket (catch-up, summary) and the REST API.

A user's inbox is two streams merged by id: their own rows (`recipient = user`)
and the announcements to everyone (`recipient IS NULL`) made since they joined.
Each stream is one query walking `notif_inbox_idx` (or `notif_unread_idx`) in id
order; an `OR` of the two would let the planner walk the whole table instead.
"""

import heapq
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

from chat.models import Room, RoomType
from notifications.exceptions import NotificationNotFound
from notifications.models import BroadcastRead, Notification
from realtime.wire import iso

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_notification_id(value: str | None) -> int | None:
    """Return the row id of a wire id ("123"), or None when it is not one."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def _read_mark(user) -> Exists:
    return Exists(BroadcastRead.objects.filter(user=user, notification=OuterRef("pk")))


def _personal(user) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user)


def _announcements_since_joined(user) -> QuerySet[Notification]:
    joined = getattr(user, "date_joined", None) or EPOCH
    return Notification.objects.filter(recipient__isnull=True, created_at__gte=joined)


def _broadcasts(user) -> QuerySet[Notification]:
    """Announcements to everyone made since `user` joined, with their read mark."""
    return _announcements_since_joined(user).annotate(is_read=_read_mark(user))


def notification_data(notification: Notification) -> dict:
    """Return a notification in the wire shape of `notification.data`."""
    if notification.recipient_id is None:
        read = bool(getattr(notification, "is_read", False))
    else:
        read = notification.read_at is not None
    data = {
        "id": str(notification.pk),
        "type": notification.type,
        "title": notification.title,
        "content": notification.content,
        "timestamp": iso(notification.created_at),
        "read": read,
    }
    if notification.extra:
        data["extra"] = notification.extra
    return data


def _merge(mine: QuerySet, everyone: QuerySet, *, newest_first: bool, limit: int):
    order = "-id" if newest_first else "id"
    streams = (
        list(mine.order_by(order)[: limit + 1]),
        list(everyone.order_by(order)[: limit + 1]),
    )
    key = (lambda n: -n.pk) if newest_first else (lambda n: n.pk)
    return list(heapq.merge(*streams, key=key))


def notification_page(
    *, user, before: int | None, limit: int, unread_only: bool
) -> tuple[list[dict], int | None]:
    """Return (a page of `user`'s inbox, newest first; the next page's cursor or None).

    Two queries whatever the inbox size.
    """
    mine, everyone = _personal(user), _broadcasts(user)
    if unread_only:
        mine, everyone = (
            mine.filter(read_at__isnull=True),
            everyone.filter(is_read=False),
        )
    if before is not None:
        mine, everyone = mine.filter(id__lt=before), everyone.filter(id__lt=before)
    rows = _merge(mine, everyone, newest_first=True, limit=limit)
    page = rows[:limit]
    cursor = page[-1].pk if len(rows) > limit else None
    return [notification_data(n) for n in page], cursor


def notifications_after(*, user, after_id: int, limit: int) -> tuple[list[dict], bool]:
    """Return (`user`'s notifications newer than `after_id`, oldest first; hasMore)."""
    rows = _merge(
        _personal(user).filter(id__gt=after_id),
        _broadcasts(user).filter(id__gt=after_id),
        newest_first=False,
        limit=limit,
    )
    return [notification_data(n) for n in rows[:limit]], len(rows) > limit


def notification_summary(*, user) -> dict:
    """Return {"unread", "latestId"} of `user`'s inbox.

    It runs on every connect. One statement: each stream's count and newest id
    is a subquery over its own index. Hand-written, because compiling the ORM's
    two aggregates cost more than running them (docs/architecture.md).
    """
    table, reads = Notification._meta.db_table, BroadcastRead._meta.db_table
    joined = connection.ops.adapt_datetimefield_value(
        getattr(user, "date_joined", None) or EPOCH
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT
            (SELECT COUNT(*) FROM {table} WHERE recipient_id = %s AND read_at IS NULL),
            (SELECT MAX(id) FROM {table} WHERE recipient_id = %s),
            (SELECT COUNT(*) FROM {table} x
              WHERE x.recipient_id IS NULL AND x.created_at >= %s AND NOT EXISTS
                (SELECT 1 FROM {reads} r
                  WHERE r.notification_id = x.id AND r.user_id = %s)),
            (SELECT MAX(id) FROM {table}
              WHERE recipient_id IS NULL AND created_at >= %s)""",
            [user.pk, user.pk, joined, user.pk, joined],
        )
        mine_unread, mine_latest, all_unread, all_latest = cursor.fetchone()
    latest = max((v for v in (mine_latest, all_latest) if v), default=None)
    return {
        "unread": mine_unread + all_unread,
        "latestId": str(latest) if latest else None,
    }


def notification_get_for_user(*, user, notification_id: str) -> Notification:
    """Return one notification of `user`'s inbox, or raise NotificationNotFound.

    The same answer whether it is missing or someone else's.
    """
    pk = parse_notification_id(notification_id)
    found = None
    if pk is not None:
        found = (
            _personal(user).filter(pk=pk).first()
            or _broadcasts(user).filter(pk=pk).first()
        )
    if found is None:
        raise NotificationNotFound()
    return found


def unread_broadcast_ids(*, user, up_to: int | None = None) -> list[int]:
    """Return the ids of the announcements to everyone `user` has not read."""
    rows = _broadcasts(user).filter(is_read=False)
    if up_to is not None:
        rows = rows.filter(id__lte=up_to)
    return list(rows.values_list("pk", flat=True))


def drama_room_pks(*, drama_id: int) -> list[int]:
    """Return the pks of the drama_chat rooms about one drama."""
    return list(
        Room.objects.filter(
            drama_id=drama_id, room_type=RoomType.DRAMA_CHAT
        ).values_list("pk", flat=True)
    )
