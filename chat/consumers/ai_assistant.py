"""ai_assistant: a private conversation between one user and the assistant.

The room belongs to the user who made it (first join, or `POST /api/rooms/`);
anyone else gets room_not_found. Every chat its owner sends is answered by the
assistant, streamed to the room, within `AI_REPLIES_PER_MINUTE`; the frames are
described in `chat.services.assistant`. Leaving the room or disconnecting cancels
a reply still streaming.
"""

from chat.consumers.route import RoomConsumer
from chat.models import RoomType
from chat.room_types import RULES


class AIAssistantConsumer(RoomConsumer):
    rules = RULES[RoomType.AI_ASSISTANT]
