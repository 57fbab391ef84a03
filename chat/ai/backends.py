"""Settings-driven choice of the assistant's backend."""

from functools import lru_cache

from django.conf import settings

from chat.ai.base import AIBackend, AIBackendError
from chat.ai.offline import OfflineBackend
from chat.ai.openai_compat import OpenAICompatBackend

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT_SECONDS = 30.0


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
# settings tuple is enough.
@lru_cache(maxsize=8)
def _offline_backend(delay_seconds: float) -> AIBackend:
    return OfflineBackend(delay_seconds=delay_seconds)


@lru_cache(maxsize=8)
def _openai_backend(
    base_url: str, model: str, api_key: str, timeout_seconds: float
) -> AIBackend:
    return OpenAICompatBackend(
        base_url=base_url,
        model=model,
        api_key=api_key,
        timeout_seconds=timeout_seconds,
    )
