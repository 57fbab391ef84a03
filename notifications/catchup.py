"""What a connection gets from the inbox right after `auth_success`.

With `lastNotificationId` (query string or `auth` message): the notifications
newer than it, oldest first, at most `NOTIFICATIONS_CATCHUP_LIMIT`; when more
remain, a `notification_summary` follows so the client pages the rest over REST.
Without it (or with an id that is not one): a `notification_summary`.
The connection is already subscribed to its user topic, so a notification
committed during the catch-up is pushed live too: clients de-duplicate by `id`.
"""

from django.conf import settings

from notifications import frames, selectors
from realtime import Connection
from realtime.reads import db_call


def connect_frames(*, user, last_notification_id: str | None) -> list[dict]:
    """Return the frames a connection gets after auth_success (database thread)."""
    after_id = selectors.parse_notification_id(last_notification_id)
    if after_id is not None:
        items, has_more = selectors.notifications_after(
            user=user, after_id=after_id, limit=settings.NOTIFICATIONS_CATCHUP_LIMIT
        )
        out = [frames.notification(data) for data in items]
        if not has_more:
            return out
    else:
        out = []
    summary = selectors.notification_summary(user=user)
    out.append(frames.notification_summary(summary["unread"], summary["latestId"]))
    return out


async def on_authenticated(conn: Connection, last_notification_id: str | None) -> None:
    """Called right after a connection's auth_success (a `realtime.registry` hook):
    catch-up or summary."""
    for frame in await db_call(
        connect_frames, user=conn.user, last_notification_id=last_notification_id
    ):
        conn.send_frame(frame)
