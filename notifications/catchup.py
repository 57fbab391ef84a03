"""What a connection gets from the inbox right after `auth_success`.

With `lastNotificationId` (query string or `auth` message): the notifications
newer than it, oldest first, at most `NOTIFICATIONS_CATCHUP_LIMIT`; when more
remain, a `notification_summary` follows so the client pages the rest over REST.
Without it (or with an id that is not one): a `notification_summary`.
The connection is already subscribed to its user topic, so a notification
committed during the catch-up is pushed live too: clients de-duplicate by `id`.
"""

from collections.abc import Callable

from channels.db import database_sync_to_async

from django.conf import settings

from chat import protocol
from notifications import selectors


def connect_frames(*, user, last_notification_id: str | None) -> list[dict]:
    """Return the frames a connection gets after auth_success (database thread)."""
    after_id = selectors.parse_notification_id(last_notification_id)
    if after_id is not None:
        items, has_more = selectors.notifications_after(
            user=user, after_id=after_id, limit=settings.NOTIFICATIONS_CATCHUP_LIMIT
        )
        frames = [protocol.notification(data) for data in items]
        if not has_more:
            return frames
    else:
        frames = []
    summary = selectors.notification_summary(user=user)
    frames.append(protocol.notification_summary(summary["unread"], summary["latestId"]))
    return frames


async def on_authenticated(
    *, user, last_notification_id: str | None, send_frame: Callable[[dict], None]
) -> None:
    """Called by the connection right after auth_success: catch-up or summary."""
    frames = await database_sync_to_async(connect_frames)(
        user=user, last_notification_id=last_notification_id
    )
    for frame in frames:
        send_frame(frame)
