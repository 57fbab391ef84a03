"""Streaming backend for any OpenAI-compatible /chat/completions endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from chat.ai.base import AIBackendError

SYSTEM_PROMPT = (
    "你是YYC3短剧平台的河洛文化AI助手。YYC3是一个以河洛文化为特色的短剧平台，"
    "用户可以观看短剧、发送弹幕、观看直播、加入文化圈交流。"
    "请用简体中文简洁、友好、准确地回答关于河洛文化（河图洛书、洛阳十三朝古都、龙门石窟、"
    "白马寺、洛阳牡丹等）以及平台使用的问题；不确定的内容请如实说明，不要编造。"
)
_ALLOWED_ROLES = frozenset({"user", "assistant"})
_ERROR_SNIPPET_BYTES = 300
_CONNECT_TIMEOUT_CAP = 10.0


class OpenAICompatBackend:
    """Streams chat-completion deltas over SSE with one short-lived client per reply."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout_seconds: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self.timeout_seconds = timeout_seconds

    def __repr__(self) -> str:
        # The key is deliberately left out so the instance is safe to log.
        return f"OpenAICompatBackend(base_url={self.base_url!r}, model={self.model!r})"

    def build_messages(
        self, prompt: str, history: list[dict[str, str]]
    ) -> list[dict[str, str]]:
        """System prompt, user/assistant history (oldest first), then the prompt."""
        messages = [{"role": "system", "content": SYSTEM_PROMPT}]
        # Only user/assistant turns pass through: a "system" entry smuggled into
        # history must not be able to override the platform's system prompt.
        messages.extend(
            {"role": item["role"], "content": str(item.get("content", ""))}
            for item in history
            if item.get("role") in _ALLOWED_ROLES
        )
        messages.append({"role": "user", "content": prompt})
        return messages

    async def stream_reply(
        self, *, prompt: str, history: list[dict[str, str]]
    ) -> AsyncIterator[str]:
        """Yield content deltas; raise AIBackendError on any HTTP/stream failure.

        Close the generator (``contextlib.aclosing``) if you stop iterating early.
        """
        headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        body = orjson.dumps(
            {
                "model": self.model,
                "messages": self.build_messages(prompt, history),
                "stream": True,
            }
        )
        # The read timeout bounds the gap between streamed chunks, not the whole
        # reply, so long answers are fine while a stalled server still fails.
        timeout = httpx.Timeout(
            self.timeout_seconds,
            connect=min(self.timeout_seconds, _CONNECT_TIMEOUT_CAP),
        )
        url = f"{self.base_url}/chat/completions"
        try:
            # Everything lives inside ``async with`` so cancellation or aclose()
            # at any await/yield closes the response and its connection promptly.
            async with (
                httpx.AsyncClient(timeout=timeout) as client,
                client.stream("POST", url, content=body, headers=headers) as response,
            ):
                if response.status_code != 200:
                    detail = await _error_detail(response)
                    raise AIBackendError(
                        f"AI backend returned HTTP {response.status_code}: {detail}"
                    )
                done = False
                async for line in response.aiter_lines():
                    data = _sse_data(line)
                    if data is None:
                        continue
                    if data == "[DONE]":
                        done = True
                        break
                    piece = _delta_content(data)
                    if piece:
                        yield piece
                if not done:
                    raise AIBackendError("AI stream ended before [DONE]")
        except AIBackendError as exc:
            # Server-provided text is echoed in messages, so scrub the key from it.
            raise AIBackendError(self._redact(exc.message)) from None
        except httpx.TimeoutException as exc:
            raise AIBackendError(
                f"AI backend timed out after {self.timeout_seconds:g}s "
                f"({type(exc).__name__})"
            ) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            message = f"AI backend request failed: {type(exc).__name__}: {exc}"
            raise AIBackendError(self._redact(message)) from exc

    def _redact(self, message: str) -> str:
        if self._api_key and self._api_key in message:
            return message.replace(self._api_key, "***")
        return message


def _sse_data(line: str) -> str | None:
    """Payload of an SSE ``data:`` line; None for blank, comment and other fields."""
    # OpenAI-compatible servers put one JSON object per data line, so lines are
    # handled individually rather than joining multi-line events.
    if not line.startswith("data:"):
        return None
    data = line[5:]
    return data[1:] if data.startswith(" ") else data


def _delta_content(data: str) -> str:
    """Text of ``choices[0].delta.content`` in one chunk ("" when it has none)."""
    try:
        chunk: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise AIBackendError(
            "AI stream sent a malformed chunk (invalid JSON)"
        ) from None
    if not isinstance(chunk, dict):
        raise AIBackendError("AI stream sent a malformed chunk (not an object)")
    if "error" in chunk:
        raise AIBackendError(f"AI stream reported an error: {_error_text(chunk)}")
    choices = chunk.get("choices") or []
    if not isinstance(choices, list):
        raise AIBackendError("AI stream sent a malformed chunk (bad choices)")
    if not choices:
        # e.g. a trailing usage-only chunk: nothing to show.
        return ""
    first = choices[0]
    delta = (first.get("delta") or {}) if isinstance(first, dict) else None
    if not isinstance(delta, dict):
        raise AIBackendError("AI stream sent a malformed chunk (bad choice)")
    content = delta.get("content")
    if content is None:
        return ""
    if not isinstance(content, str):
        raise AIBackendError("AI stream sent a malformed chunk (bad delta)")
    return content


async def _error_detail(response: httpx.Response) -> str:
    """A short, human-readable description of an error response body."""
    # Read at most a few hundred bytes: error pages can be large HTML documents.
    raw = b""
    async for part in response.aiter_bytes():
        raw += part
        if len(raw) >= _ERROR_SNIPPET_BYTES:
            break
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and "error" in parsed:
        return _error_text(parsed)
    text = raw[:_ERROR_SNIPPET_BYTES].decode("utf-8", "replace").strip()
    return text or response.reason_phrase or "no details"


def _error_text(payload: dict[str, Any]) -> str:
    error = payload.get("error")
    if isinstance(error, dict):
        error = error.get("message") or error
    return str(error)[:_ERROR_SNIPPET_BYTES]
