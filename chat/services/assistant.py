"""The AI assistant's use case: check the quota, stream a reply, store, publish.

Every chat the owner of an ai_assistant room sends is answered, to the room (all
the owner's connections in it):

    ai_delta {roomId, replyTo: <their message id>, id: <stream id>, delta}   0..n
    then chat {id, ..., senderId: "assistant", senderName: "AI助手",
               replyTo: <their message id>, streamId: <stream id>}
    or error {code: "ai_unavailable" | "ai_cancelled", message, ref: "chat",
              roomId, replyTo, streamId}

A reply's message id exists only once the whole reply is stored, so the deltas
carry a stream id and the final chat names it in `streamId`. Nothing is stored
unless the backend finished: a failure, `AI_REPLY_TIMEOUT_SECONDS`, or the caller
cancelling (the asking connection left the room or disconnected) end the stream
with nothing kept.
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

from chat import events, selectors
from chat.ai import AIBackendError, get_backend
from chat.exceptions import ClientError, ContentBlocked, RateLimited
from chat.room_types import RoomRef
from chat.services.messages import assistant_message_create
from chat.words import WordFilter, words

logger = logging.getLogger(__name__)

QUOTA_WINDOW = timedelta(minutes=1)


async def assistant_quota_check(*, user) -> None:
    """Raise RateLimited when `user` had AI_REPLIES_PER_MINUTE in the last minute.

    Counted from the stored prompts, so it holds across connections and processes.
    """
    quota = settings.AI_REPLIES_PER_MINUTE
    recent = await database_sync_to_async(selectors.assistant_prompt_times)(
        user=user, window=QUOTA_WINDOW, limit=quota
    )
    if len(recent) >= quota:
        frees_at = recent[-1] + QUOTA_WINDOW
        wait_ms = max(1, int((frees_at - timezone.now()).total_seconds() * 1000))
        raise RateLimited(
            f"{quota} assistant replies a minute at most: wait {wait_ms} ms",
            extra={"retryAfterMs": wait_ms},
        )


def new_stream_id() -> str:
    return f"ai-{uuid.uuid4().hex}"


async def assistant_answer(*, room: RoomRef, prompt: dict, stream_id: str) -> None:
    """Stream the assistant's answer to `prompt` (a stored chat) to the room, then
    store and publish it; publish an error frame instead when it fails."""
    failed = partial(
        events.aai_reply_failed,
        room_pk=room.pk,
        room_id=room.room_id,
        reply_to=prompt["id"],
        stream_id=stream_id,
    )
    try:
        text = await _stream(room, prompt, stream_id)
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
    except ClientError as exc:  # a blocked word in the reply: nothing stored
        await failed(code=exc.code, message=exc.message)
        return
    except Exception:
        logger.exception("assistant reply failed")
        await failed(code="ai_unavailable", message="the assistant is unavailable")
        return
    # The answer is complete: store and send it even if the asker goes now.
    await asyncio.shield(_store(room, prompt, stream_id, text, failed))


async def _stream(room: RoomRef, prompt: dict, stream_id: str) -> str:
    history = await database_sync_to_async(selectors.assistant_context)(
        room=room, before=prompt["id"], limit=settings.AI_HISTORY_MESSAGES
    )
    screen = StreamScreen(await database_sync_to_async(words.current)())

    async def send(delta: str) -> None:
        if delta:
            await events.aai_delta(
                room_pk=room.pk,
                room_id=room.room_id,
                reply_to=prompt["id"],
                stream_id=stream_id,
                delta=delta,
            )

    async with asyncio.timeout(settings.AI_REPLY_TIMEOUT_SECONDS):
        stream = get_backend().stream_reply(prompt=prompt["message"], history=history)
        async with contextlib.aclosing(stream):
            async for delta in stream:
                if delta:
                    await send(screen.add(delta))
    await send(screen.finish())
    if not screen.text.strip():
        raise AIBackendError("the backend sent an empty reply")
    return screen.text


class StreamScreen:
    """The sensitive-word filter over a reply being streamed: what may be shown
    so far, masked, holding back the last characters that could still turn out
    to begin a word; a blocked word ends the reply (ContentBlocked)."""

    def __init__(self, word_filter: WordFilter) -> None:
        self.filter = word_filter
        self.text = ""
        self.shown = 0

    def add(self, delta: str) -> str:
        self.text += delta
        return self._release(len(self.text) - self.filter.longest)

    def finish(self) -> str:
        return self._release(len(self.text))

    def _release(self, upto: int) -> str:
        if upto <= self.shown:
            return ""
        screened = self.filter.screen(self.text)
        if screened.blocked:
            raise ContentBlocked()
        piece = screened.text[self.shown : upto]
        self.shown = upto
        return piece


async def _store(room: RoomRef, prompt: dict, stream_id: str, text: str, failed):
    try:
        data = await database_sync_to_async(assistant_message_create)(
            room=room, text=text, reply_to=prompt["id"]
        )
    except ClientError as exc:
        # The room was closed while the reply streamed.
        await failed(code=exc.code, message=exc.message)
        return
    await events.chat_published(room_pk=room.pk, data={**data, "streamId": stream_id})
