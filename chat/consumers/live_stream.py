"""live_stream: many viewers, one host."""

from chat.consumers.policy import RoomPolicy
from chat.consumers.route import RoomConsumer
from chat.models import RoomType


class LiveStreamPolicy(RoomPolicy):
    """A stream's room is made on first join; slow mode by default."""


class LiveStreamConsumer(RoomConsumer):
    policy = LiveStreamPolicy(room_type=RoomType.LIVE_STREAM, create_on_join="anyone")
