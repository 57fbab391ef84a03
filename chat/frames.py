"""Every chat frame the server sends, and the wire shape of a chat, built in one
place from rows (or from what the chat store inserted).

Notification frames are in `notifications.frames`; the connection's own (`pong`,
`auth_*`, `error`) in `realtime.wire`. Each builder's output is checked against
the contract's schema in tests/chat/test_protocol_frames.py.
"""

from typing import Any

from chat.models import ChatMessage, Room
from realtime.wire import frame, iso, now_iso

# The wire shape of `chat.data`: field -> (type, always present). `chat_data`
# builds it; the REST schema (chat.apis) is derived from it.
CHAT_DATA_FIELDS: dict[str, tuple[type, bool]] = {
    "id": (str, True),
    "roomId": (str, True),
    "senderId": (str, True),
    "senderName": (str, True),
    "message": (str, True),
    "messageType": (str, True),
    "timestamp": (str, True),
    "clientMsgId": (str, False),
    "episode": (int, False),
    "playbackMs": (int, False),
    "replyTo": (str, False),
}


def chat_data(
    *,
    message_id: str,
    room_id: str,
    sender_id: int | None,
    sender_name: str,
    text: str,
    message_type: str,
    timestamp: str,
    client_msg_id: str | None = None,
    episode: int | None = None,
    playback_ms: int | None = None,
    reply_to: str = "",
) -> dict:
    """Return a chat's fields in the wire shape of `chat.data`."""
    data: dict[str, Any] = {
        "id": message_id,
        "roomId": room_id,
        "senderId": str(sender_id) if sender_id else "assistant",
        "senderName": sender_name,
        "message": text,
        "messageType": message_type,
        "timestamp": timestamp,
    }
    if client_msg_id:
        data["clientMsgId"] = client_msg_id
    if episode is not None:
        data["episode"] = episode
    if playback_ms is not None:
        data["playbackMs"] = playback_ms
    if reply_to:
        data["replyTo"] = reply_to
    return data


def message_data(message: ChatMessage, room_id: str) -> dict:
    """Return a stored message in the wire shape of `chat.data`."""
    return chat_data(
        message_id=message.public_id,
        room_id=room_id,
        sender_id=message.sender_id,
        sender_name=message.sender_name,
        text=message.message,
        message_type=message.message_type,
        timestamp=iso(message.created_at),
        client_msg_id=message.client_msg_id,
        episode=message.episode,
        playback_ms=message.playback_ms,
        reply_to=message.reply_to,
    )


def room_data(room: Room) -> dict:
    return {"roomId": room.room_id, "roomType": room.room_type, "title": room.title}


def presence_event(kind: str, room_id: str, user_id: str, user_name: str) -> dict:
    """Return a `user_joined` or `user_left` frame."""
    return frame(
        kind,
        {
            "roomId": room_id,
            "userId": user_id,
            "userName": user_name,
            "timestamp": now_iso(),
        },
    )


def room_state(
    room: dict, online_count: int, recent: list[dict], request_id: str | None = None
) -> dict:
    return frame(
        "room_state",
        {
            "roomId": room["roomId"],
            "roomType": room["roomType"],
            "title": room["title"],
            "onlineCount": online_count,
            "recent": recent,
        },
        request_id,
    )


def history(
    room_id: str, messages: list[dict], has_more: bool, request_id: str | None = None
) -> dict:
    return frame(
        "history",
        {"roomId": room_id, "messages": messages, "hasMore": has_more},
        request_id,
    )


def chat(data: dict) -> dict:
    return frame("chat", data)


def presence_count(room_id: str, online_count: int) -> dict:
    return frame("presence", {"roomId": room_id, "onlineCount": online_count})


def message_deleted(room_id: str, message_id: str) -> dict:
    return frame("message_deleted", {"roomId": room_id, "messageId": message_id})


def ai_delta(room_id: str, reply_to: str, reply_id: str, delta: str) -> dict:
    return frame(
        "ai_delta",
        {"roomId": room_id, "replyTo": reply_to, "id": reply_id, "delta": delta},
    )
