"""The one place notifications push from: inbox items, announcements and
`drama_update`, each sent after the surrounding transaction commits."""

from notifications import frames
from realtime import (
    ALL_TOPIC,
    publish_many_on_commit,
    publish_on_commit,
    room_topic,
    user_topic,
)


def notification_created(*, user_id: int, data: dict) -> None:
    """Push a new notification to every connection of its recipient."""
    publish_on_commit(user_topic(user_id), frames.notification(data))


def notifications_created(*, items: list[tuple[int, dict]]) -> None:
    """Push one notification each to many users: [(user_id, data), ...]."""
    publish_many_on_commit(
        [(user_topic(uid), frames.notification(data)) for uid, data in items]
    )


def announcement_sent(*, data: dict) -> None:
    """Push an announcement to everyone connected: one layer message in all."""
    publish_on_commit(ALL_TOPIC, frames.notification(data))


def drama_updated(*, room_pks: list[int], owner_id: int, frame: dict) -> None:
    """Push a `drama_update` to the drama's rooms and to its owner's connections
    (once: an owner's connection in one of the rooms gets it from the room)."""
    rooms = [room_topic(pk) for pk in room_pks]
    owner = user_topic(owner_id)
    publish_many_on_commit(
        [(topic, frame) for topic in [*rooms, owner]], unless={owner: rooms}
    )
