"""Helpers of the notification tests."""

from asgiref.sync import sync_to_async

from tests import ws


def in_db(fn, *args, **kwargs):
    """Run sync ORM or service code from an async test (in the database thread)."""
    return sync_to_async(fn)(*args, **kwargs)


async def settled(comm) -> dict:
    """Read the summary a connection without lastNotificationId gets after auth."""
    return await ws.recv_type(comm, "notification_summary")
