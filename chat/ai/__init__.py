"""AI assistant reply backends for the ``ai_assistant`` room type."""

from chat.ai.backends import get_backend
from chat.ai.base import AIBackend, AIBackendError

__all__ = ["AIBackend", "AIBackendError", "get_backend"]
