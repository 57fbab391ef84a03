"""A tiny local fake of an OpenAI-compatible streaming /chat/completions server.

It runs an ``asyncio.start_server`` HTTP/1.1 server on its own event loop in a
daemon thread, so it is independent of the test's loop. The request's ``model``
selects the behaviour (see the MODE_* constants); every request is recorded.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

MODE_NORMAL = "fake-normal"
MODE_HTTP_500 = "fake-500"
MODE_MALFORMED = "fake-malformed"
MODE_CUT = "fake-cut"  # clean end of body, but no "data: [DONE]"
MODE_ABORT = "fake-abort"  # connection dropped in the middle of a chunk
MODE_ERROR_EVENT = "fake-error-event"  # in-stream {"error": ...} event
MODE_SLOW = "fake-slow"  # one chunk every SLOW_INTERVAL seconds, for cancellation
MODE_HANG = "fake-hang"  # headers, then silence, for read timeouts

REPLY_CHUNKS = ("你好，", "我是河洛", "文化助手。", "洛阳是十三朝古都。")
SLOW_INTERVAL = 0.05
SLOW_CHUNKS = 200  # 10 s in total: far longer than any test waits


@dataclass
class RecordedRequest:
    """What the fake received, plus what it observed while answering."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    chunks_sent: int = 0
    disconnected: threading.Event = field(default_factory=threading.Event)


def _event(payload: Any) -> bytes:
    """One SSE event carrying ``payload`` as JSON (or verbatim when a str)."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def _delta(content: str | None = None, *, role: str | None = None) -> bytes:
    """A chat.completion.chunk event; an empty delta marks the final chunk."""
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    finish = None if delta else "stop"
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return _event({"object": "chat.completion.chunk", "choices": [choice]})


class FakeOpenAIServer:
    """Start with ``with FakeOpenAIServer() as server:``; use ``server.base_url``."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.port = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        """Base URL to configure as AI_OPENAI_BASE_URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def last_request(self) -> RecordedRequest:
        """The most recent request (fails the test if there was none)."""
        with self._lock:
            assert self.requests, "fake OpenAI server received no request"
            return self.requests[-1]

    def start(self) -> None:
        """Start the server thread and wait until it listens."""
        ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main(ready)), daemon=True
        )
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("fake OpenAI server did not start")

    def stop(self) -> None:
        """Stop the server, cancelling any response still being streamed."""
        if self._loop and self._stopping:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> FakeOpenAIServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        await self._stopping.wait()
        server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        watcher: asyncio.Task[None] | None = None
        try:
            record = await self._read_request(reader)
            with self._lock:
                self.requests.append(record)
            # The client sends nothing after its request, so EOF on the read side
            # means it closed the connection: that is how disconnects are seen.
            watcher = asyncio.create_task(self._watch_eof(reader, record))
            await self._respond(record, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only stop() cancels handlers; ending normally keeps asyncio's
            # start_server callback from logging the cancellation as an error.
            pass
        finally:
            # No awaits here: a cancellation arriving mid-cleanup would otherwise
            # skip the close and leak the socket.
            if watcher:
                watcher.cancel()
            self._handlers.discard(task)
            writer.close()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        method, path, _version = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        raw = await reader.readexactly(length) if length else b""
        body = json.loads(raw) if raw else {}
        return RecordedRequest(method, path, headers, body)

    @staticmethod
    async def _watch_eof(reader: asyncio.StreamReader, record: RecordedRequest) -> None:
        try:
            while await reader.read(1024):
                pass
        except ConnectionError:
            pass
        record.disconnected.set()

    async def _respond(
        self, record: RecordedRequest, writer: asyncio.StreamWriter
    ) -> None:
        mode = record.body.get("model", MODE_NORMAL)
        if mode == MODE_HTTP_500:
            # Echo the Authorization header so tests can prove it gets redacted.
            auth = record.headers.get("authorization", "")
            error = {"error": {"message": f"boom (received {auth})"}}
            payload = json.dumps(error).encode()
            writer.write(
                b"HTTP/1.1 500 Internal Server Error\r\n"
                b"Content-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )

        async def send(data: bytes) -> None:
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
            record.chunks_sent += 1

        if mode == MODE_HANG:
            await asyncio.sleep(30)
            return
        if mode == MODE_SLOW:
            for i in range(SLOW_CHUNKS):
                if record.disconnected.is_set():
                    return
                await send(_delta(f"{i}."))
                await asyncio.sleep(SLOW_INTERVAL)
            return
        await send(b": keep-alive comment, must be ignored\n\n")
        await send(_delta(role="assistant"))  # role-only delta: no content
        if mode == MODE_ABORT:
            await send(_delta(REPLY_CHUNKS[0]))
            writer.write(b"400\r\ndata: {")  # promises 1 KiB, delivers 7 bytes
            await writer.drain()
            writer.transport.abort()
            return
        if mode == MODE_MALFORMED:
            await send(_delta(REPLY_CHUNKS[0]) + b"data: {not json\n\n")
        elif mode == MODE_ERROR_EVENT:
            await send(_event({"error": {"message": "rate limited"}}))
        else:
            for piece in REPLY_CHUNKS:
                await send(_delta(piece))
            await send(_delta())
        if mode != MODE_CUT:
            # Split across HTTP chunks to exercise the client's line reassembly.
            await send(b"data: [DO")
            await send(b"NE]\n\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
