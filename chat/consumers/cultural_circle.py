"""cultural_circle: standing communities that exist before anyone joins."""

from chat.consumers.policy import RoomPolicy
from chat.consumers.route import RoomConsumer
from chat.models import RoomType


class CulturalCirclePolicy(RoomPolicy):
    """Circles are made in admin or through the API; joining keeps a membership."""


class CulturalCircleConsumer(RoomConsumer):
    policy = CulturalCirclePolicy(
        room_type=RoomType.CULTURAL_CIRCLE,
        create_on_join="never",
        record_membership=True,
    )
