"""ai_assistant: a private conversation between one user and the assistant.

The room belongs to the user who made it (first join, or `POST /api/rooms/`);
anyone else gets room_not_found. Every chat its owner sends is answered, to the
room (all the owner's connections in it):

    ai_delta {roomId, replyTo: <their message id>, id: <stream id>, delta}   0..n
    then chat {id, ..., senderId: "assistant", senderName: "AI助手",
               replyTo: <their message id>, streamId: <stream id>}
    or error {code: "ai_unavailable" | "ai_cancelled", message, ref: "chat",
              roomId, replyTo, streamId}

A reply's message id exists only once the whole reply is stored, so the deltas
carry a stream id and the final chat names it in `streamId`. Nothing is stored
unless the backend finished: a failure, `AI_REPLY_TIMEOUT_SECONDS`, the asking
connection leaving the room or disconnecting all end the stream with nothing kept.
"""

import asyncio
import contextlib
import logging
import uuid
from datetime import timedelta
from functools import partial

from channels.db import database_sync_to_async

from django.conf import settings
from django.utils import timezone

from chat import events, selectors, services
from chat.ai.base import AIBackendError, get_backend
from chat.consumers.policy import JoinedRoom, RoomPolicy
from chat.consumers.route import RoomConsumer
from chat.exceptions import ClientError, RateLimited
from chat.models import Room, RoomType

logger = logging.getLogger(__name__)

QUOTA_WINDOW = timedelta(minutes=1)


def _task_prefix(joined: JoinedRoom) -> str:
    return f"ai-reply:{joined.pk}:"


class AIAssistantPolicy(RoomPolicy):
    """The room is its owner's; each chat starts a streamed reply, within a quota."""

    pipeline_chats = False  # the quota counts stored prompts

    async def check_chat(self, conn, joined: JoinedRoom, data: dict) -> None:
        await super().check_chat(conn, joined, data)
        await self.check_quota(conn)

    async def check_quota(self, conn) -> None:
        """Raise RateLimited when the user had AI_REPLIES_PER_MINUTE in the last minute.

        Counted from the stored prompts, so it holds across connections and processes.
        """
        quota = settings.AI_REPLIES_PER_MINUTE
        recent = await database_sync_to_async(selectors.assistant_prompt_times)(
            user=conn.user, window=QUOTA_WINDOW, limit=quota
        )
        if len(recent) >= quota:
            frees_at = recent[-1] + QUOTA_WINDOW
            wait_ms = max(1, int((frees_at - timezone.now()).total_seconds() * 1000))
            raise RateLimited(
                f"{quota} assistant replies a minute at most: wait {wait_ms} ms",
                extra={"retryAfterMs": wait_ms},
            )

    def after_chat(self, conn, joined: JoinedRoom, data: dict) -> None:
        stream_id = f"ai-{uuid.uuid4().hex}"
        # A task of the connection: its disconnect cancels the reply.
        conn._spawn(
            f"{_task_prefix(joined)}{stream_id}", answer(joined, data, stream_id)
        )

    async def on_left(self, conn, joined: JoinedRoom, online_count: int) -> None:
        prefix = _task_prefix(joined)
        for name, task in list(conn.tasks.items()):
            if name.startswith(prefix):
                task.cancel()


async def answer(joined: JoinedRoom, prompt: dict, stream_id: str) -> None:
    """Stream the assistant's answer to `prompt` (a stored chat), then store it."""
    failed = partial(
        events.aai_reply_failed,
        room_pk=joined.pk,
        room_id=joined.room_id,
        reply_to=prompt["id"],
        stream_id=stream_id,
    )
    try:
        text = await _stream(joined, prompt, stream_id)
    except asyncio.CancelledError:
        await failed(code="ai_cancelled", message="the reply was cancelled")
        raise
    except TimeoutError:
        await failed(code="ai_unavailable", message="the assistant took too long")
        return
    except AIBackendError as exc:
        logger.warning("assistant reply failed: %s", exc.message)
        await failed(code="ai_unavailable", message="the assistant is unavailable")
        return
    except Exception:
        logger.exception("assistant reply failed")
        await failed(code="ai_unavailable", message="the assistant is unavailable")
        return
    # The answer is complete: store and send it even if the asker goes now.
    await asyncio.shield(_store(joined, prompt, stream_id, text, failed))


async def _stream(joined: JoinedRoom, prompt: dict, stream_id: str) -> str:
    room = Room(pk=joined.pk, room_id=joined.room_id, room_type=joined.room_type)
    history = await database_sync_to_async(selectors.assistant_context)(
        room=room, before=prompt["id"], limit=settings.AI_HISTORY_MESSAGES
    )
    parts: list[str] = []
    async with asyncio.timeout(settings.AI_REPLY_TIMEOUT_SECONDS):
        stream = get_backend().stream_reply(prompt=prompt["message"], history=history)
        async with contextlib.aclosing(stream):
            async for delta in stream:
                if not delta:
                    continue
                parts.append(delta)
                await events.aai_delta(
                    room_pk=joined.pk,
                    room_id=joined.room_id,
                    reply_to=prompt["id"],
                    stream_id=stream_id,
                    delta=delta,
                )
    text = "".join(parts)
    if not text.strip():
        raise AIBackendError("the backend sent an empty reply")
    return text


async def _store(
    joined: JoinedRoom, prompt: dict, stream_id: str, text: str, failed
) -> None:
    room = Room(pk=joined.pk, room_id=joined.room_id, room_type=joined.room_type)
    try:
        data = await database_sync_to_async(services.assistant_message_create)(
            room=room, text=text, reply_to=prompt["id"]
        )
    except ClientError as exc:
        # The room was closed while the reply streamed.
        await failed(code=exc.code, message=exc.message)
        return
    await events.achat_message(room_pk=joined.pk, data={**data, "streamId": stream_id})


class AIAssistantConsumer(RoomConsumer):
    policy = AIAssistantPolicy(
        room_type=RoomType.AI_ASSISTANT, create_on_join="owner", create_via_api="owner"
    )
