"""ai_assistant: a private conversation between one user and the assistant."""

from chat.consumers.policy import RoomPolicy
from chat.consumers.route import RoomConsumer
from chat.models import RoomType


class AIAssistantPolicy(RoomPolicy):
    """The room belongs to the user who made it by joining."""


class AIAssistantConsumer(RoomConsumer):
    policy = AIAssistantPolicy(room_type=RoomType.AI_ASSISTANT, create_on_join="owner")
