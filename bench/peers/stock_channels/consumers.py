"""The Channels tutorial pattern: one AsyncWebsocketConsumer per socket, group_add
on join, group_send per chat, each member's consumer re-encodes the event."""

import itertools
import json
import re
import uuid
from datetime import UTC, datetime

from channels.generic.websocket import AsyncWebsocketConsumer

_users = itertools.count(1)
_ids = itertools.count(1)
_online: dict[str, int] = {}  # this process's members per room (for onlineCount)


def group_name(room: str) -> str:
    return "room." + re.sub(r"[^0-9A-Za-z_.-]", "_", room)[:90]


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.user_id = str(next(_users))
        self.rooms = set()
        await self.accept()
        data = {"userId": self.user_id, "sessionId": str(uuid.uuid4())}
        await self.send(text_data=json.dumps({"type": "auth_success", "data": data}))

    async def disconnect(self, code):
        for room in self.rooms:
            _online[room] -= 1
            await self.channel_layer.group_discard(group_name(room), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            msg = json.loads(text_data)
            kind, data = msg.get("type"), msg.get("data") or {}
        except (TypeError, ValueError, AttributeError):
            return
        if kind == "chat":
            room = data.get("roomId")
            if room not in self.rooms:
                return
            event = {
                "id": f"{next(_ids):012d}",
                "roomId": room,
                "senderId": self.user_id,
                "senderName": f"user{self.user_id}",
                "message": data.get("message"),
                "messageType": data.get("messageType", "text"),
                "timestamp": iso_now(),
            }
            await self.channel_layer.group_send(
                group_name(room), {"type": "chat.message", "data": event}
            )
        elif kind == "ping":
            reply = {
                "type": "pong",
                "timestamp": int(datetime.now().timestamp() * 1000),
            }
            if "requestId" in msg:
                reply["requestId"] = msg["requestId"]
            await self.send(text_data=json.dumps(reply))
        elif kind == "join_room":
            room = str(data.get("roomId"))
            await self.channel_layer.group_add(group_name(room), self.channel_name)
            if room not in self.rooms:
                self.rooms.add(room)
                _online[room] = _online.get(room, 0) + 1
            state = {
                "roomId": room,
                "roomType": data.get("roomType", "live_stream"),
                "title": room,
                "onlineCount": _online[room],
                "recent": [],
            }
            await self.send(text_data=json.dumps({"type": "room_state", "data": state}))
        elif kind == "leave_room":
            room = str(data.get("roomId"))
            if room in self.rooms:
                self.rooms.discard(room)
                _online[room] -= 1
                await self.channel_layer.group_discard(
                    group_name(room), self.channel_name
                )

    async def chat_message(self, event):
        await self.send(text_data=json.dumps({"type": "chat", "data": event["data"]}))
