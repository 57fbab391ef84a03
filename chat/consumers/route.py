"""The room-type route `/ws/<roomType>/<roomId>/`: one room per socket."""

from chat.consumers.base import BaseConsumer
from chat.exceptions import ClientError, InvalidMessage
from chat.room_types import RoomRules
from realtime import wire
from realtime.inbound import Inbound

# The room could not be joined (not found, closed, banned) or was closed while
# the socket was in it: see the error frame sent before the close.
CLOSE_ROOM_REFUSED = 4404


class RoomConsumer(BaseConsumer):
    """Joins the room of its URL after authenticating; `chat` may omit `roomId`."""

    rules: RoomRules

    async def connect(self) -> None:
        self.default_room_id = self.scope["url_route"]["kwargs"]["room_id"]
        await super().connect()

    async def after_authenticated(self, last_notification_id: str | None) -> None:
        await super().after_authenticated(last_notification_id)
        try:
            await self.join(self.default_room_id, self.rules.room_type, None)
        except ClientError as exc:
            self.send_frame(wire.error(exc.code, exc.message, "join_room"))
            await self.close_with(CLOSE_ROOM_REFUSED)

    async def room_closed_by_server(self, topic: str) -> None:
        await super().room_closed_by_server(topic)
        if not self.rooms:
            await self.close_with(CLOSE_ROOM_REFUSED)

    async def on_join_room(self, inbound: Inbound) -> None:
        raise InvalidMessage(
            "a room socket serves its own room only; use /ws to join others"
        )

    on_leave_room = on_join_room
