"""Live rooms' danmaku density: above a room's rate viewers get a sample.

A live_stream room's rate is its own `danmaku_rate` (admin) or
`LIVE_DANMAKU_RATE`; 0 is off. Each process applies it to the room's topic
(`realtime.density`): read on every join, and changed at once on every process
by the `danmaku_rate` control a change in admin sends (`events.room_danmaku_rate`).
The sender's sockets always get its chat; every chat is stored and in history.
The room's host and staff are never sampled.
"""

from chat.models import Room
from chat.room_types import RULES
from realtime import room_topic, runtime, user_topic
from realtime.connection import Connection


def remember_room(*, room: Room, user) -> None:
    """Called with the room just read on a join by `user`: applies its rate."""
    rules = RULES[room.room_type]
    if not rules.samples_chats:
        return
    topic = room_topic(room.pk)
    density = runtime().hub.density
    density.set_rate(topic, rules.danmaku_rate(room.danmaku_rate))
    if user.is_staff or user.pk == room.owner_id:
        density.exempt(topic, user_topic(user.pk))


def rate_changed(conn: Connection, topic: str, action: dict) -> None:
    """The `danmaku_rate` control hook: the room's rate changed in admin."""
    runtime().hub.density.set_rate(topic, int(action["rate"]))
