"""The one place that pushes to the channel layer.

Sync callers (services, signal receivers, admin) get their push sent after the
surrounding transaction commits; a rollback sends nothing. Async callers (the
consumers) call the `a*` functions only after their write has committed.
If the channel layer is down the write still stands: the failure is logged and
clients catch up from history or the inbox.
"""

import logging
import time

from asgiref.sync import async_to_sync

from django.db import transaction

from chat import hub, protocol
from chat.models import parse_message_id

logger = logging.getLogger(__name__)


_last_failure_log = 0.0


def _log_layer_failure(target: str) -> None:
    """Log a failed push once a minute: the write stands, clients catch up."""
    global _last_failure_log
    now = time.monotonic()
    if now - _last_failure_log > 60:
        _last_failure_log = now
        logger.exception("channel layer unavailable; push to %s dropped", target)


async def apublish(topic: str, frame: dict) -> None:
    """Send a frame to every socket subscribed to `topic`, on every process."""
    try:
        await hub.publish(topic, protocol.encode(frame))
    except Exception:
        _log_layer_failure(topic)


async def acontrol(topic: str, action: dict) -> None:
    """Send a server-only instruction (kick, close) to the sockets of `topic`."""
    await hub.control(topic, action)


def _send_now(send, *args) -> None:
    try:
        async_to_sync(send)(*args)
    except Exception:
        logger.exception("channel layer unavailable; push to %s dropped", args[0])


def publish_on_commit(topic: str, frame: dict) -> None:
    """Send `frame` to `topic` once the current transaction commits."""
    text = protocol.encode(frame)
    transaction.on_commit(lambda: _send_now(hub.publish, topic, text), robust=True)


def control_on_commit(topic: str, action: dict) -> None:
    transaction.on_commit(lambda: _send_now(hub.control, topic, action), robust=True)


# --- domain events ------------------------------------------------------------------


async def achat_message(*, room_pk: int, data: dict) -> None:
    """Publish one stored chat (in room order; see `chat.hub`)."""
    await achat_messages({room_pk: [data]})


async def achat_messages(by_room: dict[int, list[dict]]) -> None:
    """Publish rooms' stored chats, each room's oldest first; a room's consecutive
    chats go in one layer message, and all rooms' messages in one trip."""
    runs: list[tuple[str, int, list[str]]] = []
    for room_pk, datas in by_room.items():
        topic, last = hub.room_topic(room_pk), None
        for data in datas:
            seq = parse_message_id(data["id"])
            text = protocol.encode(protocol.chat(data))
            if last is not None and last[1] + len(last[2]) == seq:
                last[2].append(text)
            else:
                last = (topic, seq, [text])
                runs.append(last)
    try:
        await hub.publish_in_order(runs)
    except Exception:
        _log_layer_failure(f"{len(by_room)} room(s)")


async def apresence(
    *, room_pk: int, kind: str, room_id: str, user_id: str, user_name: str
) -> None:
    """Publish `user_joined` or `user_left`."""
    await apublish(
        hub.room_topic(room_pk),
        protocol.presence_event(kind, room_id, user_id, user_name),
    )


def message_deleted(*, room, message_id: str) -> None:
    publish_on_commit(
        hub.room_topic(room.pk), protocol.message_deleted(room.room_id, message_id)
    )


def user_kicked(*, room, user_id: int) -> None:
    """Close `user_id`'s sockets in `room` with 4003."""
    control_on_commit(
        hub.room_topic(room.pk), {"action": "kick", "userId": str(user_id)}
    )


def room_closed(*, room) -> None:
    control_on_commit(hub.room_topic(room.pk), {"action": "room_closed"})


def user_frame(*, user_id: int, frame: dict) -> None:
    """Push `frame` to every connection of one user, after commit."""
    publish_on_commit(hub.user_topic(user_id), frame)


def everyone_frame(*, frame: dict) -> None:
    """Push `frame` to every authenticated connection, after commit."""
    publish_on_commit(hub.ALL_TOPIC, frame)


# --- notifications (the notifications app) ------------------------------------------


def publish_many_on_commit(
    pushes: list[tuple[str, dict]], unless: dict[str, list[str]] | None = None
) -> None:
    """Send several frames once the transaction commits, in one trip to the layer.

    `unless` maps a topic to topics whose sockets it skips (see `hub.publish`).
    A layer failure drops the rest of the batch and is logged once, not per push.
    """
    if not pushes:
        return
    encoded = [(topic, protocol.encode(frame)) for topic, frame in pushes]
    unless = unless or {}

    async def send_all(label: str) -> None:
        for topic, text in encoded:
            await hub.publish(topic, text, unless.get(topic))

    label = encoded[0][0] if len(encoded) == 1 else f"{len(encoded)} topics"
    transaction.on_commit(lambda: _send_now(send_all, label), robust=True)


def notification_created(*, user_id: int, data: dict) -> None:
    """Push a new notification to every connection of its recipient."""
    user_frame(user_id=user_id, frame=protocol.notification(data))


def notifications_created(*, items: list[tuple[int, dict]]) -> None:
    """Push one notification each to many users: [(user_id, data), ...]."""
    publish_many_on_commit(
        [(hub.user_topic(uid), protocol.notification(data)) for uid, data in items]
    )


def announcement_sent(*, data: dict) -> None:
    """Push an announcement to everyone connected: one layer message in all."""
    everyone_frame(frame=protocol.notification(data))


def drama_updated(*, room_pks: list[int], owner_id: int, frame: dict) -> None:
    """Push a `drama_update` to the drama's rooms and to its owner's connections
    (once: an owner's connection in one of the rooms gets it from the room)."""
    rooms = [hub.room_topic(pk) for pk in room_pks]
    owner = hub.user_topic(owner_id)
    publish_many_on_commit(
        [(topic, frame) for topic in [*rooms, owner]], unless={owner: rooms}
    )


# --- room types: live viewer counts, assistant replies ---------------------------


def local_online_count(*, room_pk: int, room_id: str, online_count: int) -> None:
    """Hand a live room's viewer count to this process's sockets in it.

    Not sent through the layer: every process reads the shared count itself, so
    a room gets one `presence` frame per interval however many processes serve it.
    """
    text = protocol.encode(protocol.presence_count(room_id, online_count))
    hub.get_hub().deliver(hub.room_topic(room_pk), text)


async def aai_delta(
    *, room_pk: int, room_id: str, reply_to: str, stream_id: str, delta: str
) -> None:
    """Publish one piece of an assistant reply being streamed."""
    await apublish(
        hub.room_topic(room_pk), protocol.ai_delta(room_id, reply_to, stream_id, delta)
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
    await apublish(
        hub.room_topic(room_pk), protocol.error(code, message, "chat", extra=extra)
    )
