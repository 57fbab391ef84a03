"""drama_chat: chat about one drama (`drama-<pk>`), open to every signed-in user."""

from chat.consumers.policy import RoomPolicy
from chat.consumers.route import RoomConsumer
from chat.models import RoomType


class DramaChatPolicy(RoomPolicy):
    """The room of an existing Drama is made on first join."""


class DramaChatConsumer(RoomConsumer):
    policy = DramaChatPolicy(room_type=RoomType.DRAMA_CHAT, create_on_join="drama")
