"""Topics: what a socket subscribes to, named from ids only, never from raw input.

A topic maps to one channel-layer group whose members are server processes
(`realtime.hub`). User topics share `WS_USER_GROUP_SHARDS` groups
(`user.<pk>` -> `hub.users.<pk % N>`), so a process with many signed-in sockets
is in at most N user groups; the receiving hub picks the user's sockets locally.
"""

from django.conf import settings

ALL_TOPIC = "all"


def room_topic(room_pk: int) -> str:
    return f"room.{int(room_pk)}"


def user_topic(user_pk: int | str) -> str:
    return f"user.{int(user_pk)}"


def group_name(topic: str) -> str:
    """Return the channel-layer group of a topic."""
    if topic.startswith("user."):
        return f"hub.users.{int(topic[5:]) % settings.WS_USER_GROUP_SHARDS}"
    return f"hub.{topic}"
