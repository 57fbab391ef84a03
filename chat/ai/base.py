"""The backend interface and its error type (backends.py picks one by settings)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class AIBackendError(Exception):
    """Any failure producing a reply; the message is safe to log (no secrets)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AIBackend(Protocol):
    """Produces an assistant reply as a stream of text deltas."""

    # Declared without ``async`` on purpose: implementations are ``async def``
    # generators, and calling one returns an AsyncIterator directly (not a
    # coroutine), which is what this signature says to type checkers.
    # Usage: ``async for delta in backend.stream_reply(prompt=..., history=...)``.
    def stream_reply(
        self, *, prompt: str, history: list[dict[str, str]]
    ) -> AsyncIterator[str]:
        """Yield text deltas answering ``prompt``; raise AIBackendError on failure."""
        ...
