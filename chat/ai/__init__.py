"""AI assistant reply backends for the ``ai_assistant`` room type."""

from chat.ai.base import AIBackend, AIBackendError, get_backend

__all__ = ["AIBackend", "AIBackendError", "get_backend"]
