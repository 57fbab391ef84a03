"""Backend interface, error type and settings-driven backend selection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Protocol

from django.conf import settings

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT_SECONDS = 30.0


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


def get_backend() -> AIBackend:
    """Return the backend chosen by settings.AI_BACKEND ("offline" or "openai").

    Settings are read on every call (never at import) so override_settings works.
    """
    name = str(getattr(settings, "AI_BACKEND", "offline") or "offline").lower()
    if name == "offline":
        delay = float(getattr(settings, "AI_OFFLINE_DELAY_SECONDS", 0) or 0)
        return _offline_backend(delay)
    if name == "openai":
        return _openai_backend(
            str(getattr(settings, "AI_OPENAI_BASE_URL", "") or DEFAULT_OPENAI_BASE_URL),
            str(getattr(settings, "AI_OPENAI_MODEL", "") or DEFAULT_OPENAI_MODEL),
            str(getattr(settings, "AI_OPENAI_API_KEY", "") or ""),
            float(getattr(settings, "AI_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)),
        )
    # Raised as AIBackendError so callers surface it like any other backend failure
    # instead of crashing the websocket consumer.
    raise AIBackendError(f"Unknown AI_BACKEND {name!r}; use 'offline' or 'openai'")


# Backends are stateless apart from configuration, so one instance per distinct
# settings tuple is enough; imports are local to avoid import cycles with base.
@lru_cache(maxsize=8)
def _offline_backend(delay_seconds: float) -> AIBackend:
    from chat.ai.offline import OfflineBackend

    return OfflineBackend(delay_seconds=delay_seconds)


@lru_cache(maxsize=8)
def _openai_backend(
    base_url: str, model: str, api_key: str, timeout_seconds: float
) -> AIBackend:
    from chat.ai.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(
        base_url=base_url,
        model=model,
        api_key=api_key,
        timeout_seconds=timeout_seconds,
    )
