"""One consumer class per room type on a shared base, plus `/ws` for all of them."""

from chat.consumers.ai_assistant import AIAssistantConsumer
from chat.consumers.cultural_circle import CulturalCircleConsumer
from chat.consumers.drama_chat import DramaChatConsumer
from chat.consumers.gateway import GatewayConsumer
from chat.consumers.live_stream import LiveStreamConsumer

ROOM_CONSUMERS = {
    consumer.rules.room_type: consumer
    for consumer in (
        DramaChatConsumer,
        LiveStreamConsumer,
        AIAssistantConsumer,
        CulturalCircleConsumer,
    )
}

__all__ = ["GatewayConsumer", "ROOM_CONSUMERS"]
