"""cultural_circle: standing communities that exist before anyone joins.

Circles are made in admin or with `POST /api/rooms/` by staff or holders of the
`chat.add_room` permission; joining a missing circle is room_not_found; joining
one keeps a membership (`GET /api/rooms/<roomId>/members/`); history is kept
without expiry.
"""

from chat.consumers.route import RoomConsumer
from chat.models import RoomType
from chat.room_types import RULES


class CulturalCircleConsumer(RoomConsumer):
    rules = RULES[RoomType.CULTURAL_CIRCLE]
