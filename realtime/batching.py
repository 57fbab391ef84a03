"""Group commit of chat messages, per server process.

Every socket's chat goes into one queue; a single writer stores whatever has
queued up in one transaction (`services.messages_create_safely`) while the
previous batch was being written. At low load a batch is one chat and nothing
waits; under load the database thread does one commit and one INSERT for many
chats instead of one each. The writer then publishes the new chats, per room in
id order and consecutive ones in one layer message, and only then hands each
caller its own outcome.
"""

import asyncio

from channels.db import database_sync_to_async

from django.conf import settings

from chat import events, services
from chat.exceptions import ClientError
from chat.per_loop import per_event_loop
from chat.services import ChatDraft


class ChatWriter:
    def __init__(self) -> None:
        self.queue: list[tuple[ChatDraft, asyncio.Future]] = []
        self.writer: asyncio.Task | None = None

    def submit(self, draft: ChatDraft) -> asyncio.Future:
        """Queue a chat; the future gives (wire data, whether new) or its ClientError.

        Chats are stored in the order submitted. Cancelling the future does not
        take the chat back: it is stored and published all the same."""
        future = asyncio.get_running_loop().create_future()
        self.queue.append((draft, future))
        if self.writer is None:
            self.writer = asyncio.create_task(self._write())
        return future

    async def _write(self) -> None:
        try:
            while self.queue:
                size = settings.CHAT_WRITE_BATCH_MAX
                batch, self.queue = self.queue[:size], self.queue[size:]
                try:
                    outcomes = await database_sync_to_async(
                        services.messages_create_safely
                    )([draft for draft, _ in batch])
                except Exception as exc:  # noqa: BLE001 - handed to every caller
                    outcomes = [exc] * len(batch)
                await _publish_new(batch, outcomes)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, (ClientError, Exception)):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self.writer = None


async def _publish_new(batch: list, outcomes: list) -> None:
    by_room: dict[int, list[dict]] = {}
    for (draft, _), outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, tuple) and outcome[1]:
            by_room.setdefault(draft.room_pk, []).append(outcome[0])
    if by_room:
        await events.achat_messages(by_room)


get_writer = per_event_loop(ChatWriter)
