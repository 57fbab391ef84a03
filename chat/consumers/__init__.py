"""One consumer class per room type on a shared base, plus `/ws` for all of them."""

from chat.consumers.ai_assistant import AIAssistantConsumer
from chat.consumers.cultural_circle import CulturalCircleConsumer
from chat.consumers.drama_chat import DramaChatConsumer
from chat.consumers.gateway import GatewayConsumer
from chat.consumers.live_stream import LiveStreamConsumer

ROOM_CONSUMERS = {
    consumer.policy.room_type: consumer
    for consumer in (
        DramaChatConsumer,
        LiveStreamConsumer,
        AIAssistantConsumer,
        CulturalCircleConsumer,
    )
}
POLICIES = {
    room_type: consumer.policy for room_type, consumer in ROOM_CONSUMERS.items()
}

__all__ = ["GatewayConsumer", "POLICIES", "ROOM_CONSUMERS"]
