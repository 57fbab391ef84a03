"""The chat writer: group commit of users' chats, one per server process.

Chats that arrive while the previous batch is being written are stored together
(`services.messages_create_safely`), then published, per room in id order and
consecutive ones in one layer message (`events.chats_published`), and only then
is each sender answered.
"""

from django.conf import settings
from django.db import DataError

from chat import events, services
from chat.exceptions import InvalidMessage
from chat.services import ChatDraft, Outcome
from realtime.batching import Batcher


class ChatWriter(Batcher[ChatDraft, Outcome]):
    """Future outcome of a submitted draft: (wire data, whether new), or the
    ClientError refusing it."""

    def max_batch(self) -> int:
        return settings.CHAT_WRITE_BATCH_MAX

    def linger(self) -> float:
        return settings.CHAT_WRITE_LINGER_MS / 1000

    def store(self, items: list[ChatDraft]) -> list:
        return services.messages_create_safely(items)

    def failure(self, exc: Exception) -> Exception:
        # Validation refuses what the databases refuse; should one still get
        # through, its sender gets an error frame, not a closed socket.
        if isinstance(exc, DataError):
            return InvalidMessage("the message could not be stored")
        return exc

    async def published(self, items: list[ChatDraft], outcomes: list) -> None:
        by_room: dict[int, list[dict]] = {}
        for draft, outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, tuple) and outcome[1]:
                by_room.setdefault(draft.room_pk, []).append(outcome[0])
        if by_room:
            await events.chats_published(by_room)
