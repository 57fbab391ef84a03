"""The chat connection: the runtime's `Connection` with chat's message table, room
handlers and control instructions.

Authentication, limits, parsing, error frames and sending are the runtime's
(`realtime.connection`); the handlers named in `chat.protocol.MESSAGES` are in
`chat.consumers.rooms`.
"""

from chat import protocol, selectors
from chat.consumers.rooms import RoomsMixin
from realtime import wire
from realtime.connection import CLOSE_KICKED, Connection
from realtime.reads import db_call


class BaseConsumer(RoomsMixin):
    """One WebSocket connection, on `/ws` or on a room-type route."""

    messages = protocol.MESSAGES


def kick(conn: Connection, topic: str, action: dict) -> None:
    """Control `kick`: close the named user's sockets in the room with 4003."""
    if action.get("userId") == conn.user_id:
        conn.spawn("kick", conn.close_with(CLOSE_KICKED))


async def refuse_site_banned(
    conn: Connection, last_notification_id: str | None
) -> None:
    """On authentication (a runtime hook): a user banned site-wide gets
    `forbidden` (with `until`, null when permanent) and close 4003."""
    ban = await db_call(selectors.site_ban_of, user_pk=conn.user.pk)
    if ban is None:
        return
    until = wire.iso(ban.ends_at) if ban.ends_at else None
    conn.send_frame(
        wire.error("forbidden", "you are banned", "auth", extra={"until": until})
    )
    await conn.close_with(CLOSE_KICKED)


def room_closed(conn: Connection, topic: str, action: dict) -> None:
    """Control `room_closed`: tell the connection and take it out of the room."""
    if isinstance(conn, RoomsMixin):
        conn.spawn(f"closed:{topic}", conn.room_closed_by_server(topic))
