"""Sockets end with their credentials: control hooks that close a user's or an
address's sockets on every process, and the service the user model's signals
call when an account is deactivated or deleted.

Registered in `RealtimeConfig.ready()`.
"""

from typing import Any

from realtime.pushes import control_on_commit
from realtime.topics import user_topic

CLOSE_KICKED = 4003


def close_user(conn: Any, topic: str, action: dict) -> None:
    """Control `close_user`: close the named user's sockets with `code`."""
    if action.get("userId") == conn.user_id and conn.user_id:
        conn.spawn("closed-by-server", conn.end_session(action))


def close_address(conn: Any, topic: str, action: dict) -> None:
    """Control `close_address`: close the sockets from that client address."""
    if action.get("address") == conn.scope["ws"].get("address"):
        conn.spawn("closed-by-server", conn.end_session(action))


def user_sessions_end(*, user_id: Any, message: str) -> None:
    """Close every socket of the user, on every process, with 4003 once the
    current transaction commits (deactivated or deleted account)."""
    control_on_commit(
        user_topic(user_id),
        {
            "action": "close_user",
            "userId": str(user_id),
            "code": CLOSE_KICKED,
            "message": message,
        },
    )


def user_saved(sender, instance, **kwargs) -> None:
    """post_save of the user model: a deactivated account's sockets close."""
    if not instance.is_active:
        user_sessions_end(user_id=instance.pk, message="this account is disabled")


def user_deleted(sender, instance, **kwargs) -> None:
    """post_delete of the user model: a deleted account's sockets close."""
    user_sessions_end(user_id=instance.pk, message="this account was deleted")
