"""cultural_circle: standing communities that exist before anyone joins.

Circles are made in admin or with `POST /api/rooms/` by staff or holders of the
`chat.add_room` permission; joining one keeps a membership
(`GET /api/rooms/<roomId>/members/`); history is kept without expiry.
"""

from chat.consumers.policy import RoomPolicy
from chat.consumers.route import RoomConsumer
from chat.models import RoomType


class CulturalCirclePolicy(RoomPolicy):
    """Joining a missing circle is room_not_found; joining keeps a membership."""


class CulturalCircleConsumer(RoomConsumer):
    policy = CulturalCirclePolicy(
        room_type=RoomType.CULTURAL_CIRCLE,
        create_on_join="never",
        create_via_api="permitted",
        record_membership=True,
    )
