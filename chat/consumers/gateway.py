"""`/ws`: the seed's endpoint, any number of rooms of any type per socket."""

from chat.consumers.base import BaseConsumer


class GatewayConsumer(BaseConsumer):
    """Rooms are joined and left with `join_room` / `leave_room`."""
