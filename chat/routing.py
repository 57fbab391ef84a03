from django.urls import re_path

from chat.consumers import ROOM_CONSUMERS, GatewayConsumer

websocket_urlpatterns = [
    re_path(r"^ws/?$", GatewayConsumer.as_asgi()),
    *(
        re_path(
            rf"^ws/{room_type}/(?P<room_id>[A-Za-z0-9_.:-]{{1,64}})/?$",
            consumer.as_asgi(),
        )
        for room_type, consumer in ROOM_CONSUMERS.items()
    ),
]
# Any other path is refused at the handshake (realtime.entry).
