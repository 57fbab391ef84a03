"""The one place chat pushes from: every domain event, as frames to topics.

Sync callers (services, admin) push after the surrounding transaction commits
(`realtime.publish_on_commit`); a rollback sends nothing. Async callers (the
connections, the chat writer) await the `a*`/published functions only after
their write has committed. If the channel layer is down the write still stands:
the failure is logged and clients catch up from history.
"""

from chat import frames
from chat.models import parse_message_id
from realtime import (
    control_on_commit,
    publish,
    publish_in_order,
    publish_local,
    publish_on_commit,
    room_topic,
    user_topic,
)
from realtime.pushes import Run
from realtime.wire import encode, error


async def chat_published(*, room_pk: int, data: dict) -> None:
    """Publish one stored chat (in room order; see `realtime.hub`)."""
    await chats_published({room_pk: [data]})


async def chats_published(by_room: dict[int, list[dict]]) -> None:
    """Publish rooms' stored chats, each room's oldest first; a room's consecutive
    chats go in one layer message, and all rooms' messages in one trip."""
    runs: list[Run] = []
    senders: list[list[str | None]] = []  # per run: each chat's sender topic
    for room_pk, datas in by_room.items():
        topic, last = room_topic(room_pk), None
        for data in datas:
            seq = parse_message_id(data["id"])
            text = encode(frames.chat(data))
            sender = data["senderId"]
            by = user_topic(int(sender)) if sender.isdigit() else None
            if last is not None and last[1] + len(last[2]) == seq:
                last[2].append(text)
                senders[-1].append(by)
            else:
                last = (topic, seq, [text])
                runs.append(last)
                senders.append([by])
    await publish_in_order(runs, f"{len(by_room)} room(s)", senders)


async def apresence(
    *, room_pk: int, kind: str, room_id: str, user_id: str, user_name: str
) -> None:
    """Publish `user_joined` or `user_left`."""
    await publish(
        room_topic(room_pk), frames.presence_event(kind, room_id, user_id, user_name)
    )


def message_deleted(*, room, message_id: str) -> None:
    publish_on_commit(
        room_topic(room.pk), frames.message_deleted(room.room_id, message_id)
    )


def user_kicked(*, room, user_id: int) -> None:
    """Close `user_id`'s sockets in `room` with 4003."""
    control_on_commit(room_topic(room.pk), {"action": "kick", "userId": str(user_id)})


def room_closed(*, room) -> None:
    control_on_commit(room_topic(room.pk), {"action": "room_closed"})


def room_danmaku_rate(*, room, rate: int) -> None:
    """Tell every process serving `room` its new danmaku rate (0: off)."""
    control_on_commit(room_topic(room.pk), {"action": "danmaku_rate", "rate": rate})


# --- room types: live viewer counts, assistant replies ---------------------------


def local_online_count(*, room_pk: int, room_id: str, online_count: int) -> None:
    """Hand a live room's viewer count to this process's sockets in it.

    Not sent through the layer: every process reads the shared count itself, so
    a room gets one `presence` frame per interval however many processes serve it.
    """
    publish_local(room_topic(room_pk), frames.presence_count(room_id, online_count))


async def aai_delta(
    *, room_pk: int, room_id: str, reply_to: str, stream_id: str, delta: str
) -> None:
    """Publish one piece of an assistant reply being streamed."""
    await publish(
        room_topic(room_pk), frames.ai_delta(room_id, reply_to, stream_id, delta)
    )


async def aai_reply_failed(
    *,
    room_pk: int,
    room_id: str,
    code: str,
    message: str,
    reply_to: str,
    stream_id: str,
) -> None:
    """Tell the room a streamed reply ended without a stored answer."""
    extra = {"roomId": room_id, "replyTo": reply_to, "streamId": stream_id}
    await publish(room_topic(room_pk), error(code, message, "chat", extra=extra))
