"""Minimal, fast WebSocket client on a raw asyncio Protocol (RFC 6455, text frames).

Why not the `websockets` client: the load generator must receive ~100k frames/s on one
core to saturate the fastest peer. A Protocol parses every frame of one socket read in a
single call with no task switch per frame; the `websockets` client wakes a coroutine
per message. See README.md for the measured costs.

Frames from the server are unmasked; frames we send are masked (websockets' C
`apply_mask`). Server pings are answered with pongs, close frames are echoed.

With `deflate` a socket offers permessage-deflate (RFC 7692) as browsers do
(`permessage-deflate; client_max_window_bits`). When the server accepts, frames
with RSV1 are inflated (with the server's window) and what we send is compressed,
each message on its own when the server asked for `client_no_context_takeover`,
as a browser does. `WSConn.rx_bytes` counts the bytes read from the network
by every socket (the wire size of what the server sent).
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import time
import zlib
from collections import deque
from collections.abc import Callable

import orjson
from websockets.speedups import apply_mask

_now = time.perf_counter_ns
_getrandbits = random.getrandbits


def _frame(opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
    """A masked client frame, FIN set (RSV1 too for a compressed message)."""
    n = len(payload)
    first = 0x80 | (0x40 if rsv1 else 0) | opcode
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = bytes((first, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((first, 0x80 | 127)) + n.to_bytes(8, "big")
    mask = _getrandbits(32).to_bytes(4, "big")
    return head + mask + apply_mask(payload, mask)


_TAIL = b"\x00\x00\xff\xff"  # RFC 7692: the end of a flushed deflate block
OFFER = "permessage-deflate; client_max_window_bits"


def _window_bits(header: str, name: str) -> int:
    """Return a `*_max_window_bits` parameter of the accepted extension (15 when
    absent: no limit)."""
    for param in header.split(";"):
        key, _, value = param.strip().partition("=")
        if key == name and value.strip('" '):
            return int(value.strip('" '))
    return 15


_RXBUF = bytearray(1 << 16)  # one receive buffer shared by every socket (single thread)
_RXVIEW = memoryview(_RXBUF)


class WSConn(asyncio.BufferedProtocol):
    """One client socket. `on_text(conn, payload, now_ns)` gets every text frame.

    During setup `on_text` is `setup_frame`, which resolves the `expect()` waiter; the
    scenario then swaps in its own fast handler.
    """

    rx_bytes = 0  # every socket's bytes read (class-wide)

    def __init__(self, host: str, path: str, index: int, deflate: bool = False) -> None:
        self.index = index  # simulated user number (scenario-owned meaning)
        self.host, self.path = host, path
        self.offer_deflate = deflate
        self.inflater = None  # zlib decompressobj once the server accepted deflate
        self.deflater = None
        self.deflate_bits = 15
        self.deflate_reset = False  # the server asked for client_no_context_takeover
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.frag: list[bytes] | None = None  # continuation frames being assembled
        self.frag_compressed = False
        self.open = False
        self.closed = False
        self.closing = False  # we started the close
        self.close_code: int | None = (
            None  # from the server's close frame, 1006 if none
        )
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.on_text: Callable[[WSConn, bytes, int], None] = WSConn.setup_frame
        self._want: frozenset[str] = frozenset()
        self._waiter: asyncio.Future[dict] | None = None
        self.errors: list[dict] = []  # `error` frames seen during setup
        self.backlog: deque[dict] = deque(maxlen=64)  # setup frames nobody waited for

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        offer = f"Sec-WebSocket-Extensions: {OFFER}\r\n" if self.offer_deflate else ""
        req = (
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n{offer}"
            "Sec-WebSocket-Version: 13\r\nUser-Agent: bench-loadgen\r\n\r\n"
        )
        transport.write(req.encode())  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.close_code is None and not self.closing:
            self.close_code = 1006  # dropped without a close frame
        for fut in (self.opened, self._waiter):
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionError("connection lost"))
        if not self.lost.done():
            self.lost.set_result(None)

    def get_buffer(self, sizehint: int) -> memoryview:
        # asyncio's plain Protocol path does sock.recv(256 KiB): a fresh 256 KiB
        # allocation (mmap + page faults) per read, ~35 µs. recv_into a shared buffer
        # instead; buffer_updated copies the bytes out before the next read.
        return _RXVIEW

    def buffer_updated(self, nbytes: int) -> None:
        WSConn.rx_bytes += nbytes
        self.data_received(bytes(_RXVIEW[:nbytes]))

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            status = buf[: buf.find(b"\r\n")]
            if b" 101 " not in status + b" ":
                self.opened.set_exception(
                    ConnectionError(status.decode(errors="replace"))
                )
                self.transport.close()
                return
            self.open = True
            self._accept_extensions(buf[:end])
            self.opened.set_result(None)
            buf = buf[end + 4 :]
        now = _now()  # one timestamp for every frame of this read
        n = len(buf)
        if n > 1 and buf[0] == 0x81 and buf[1] + 2 == n:  # common: one small text frame
            self.buf = b""
            self.on_text(self, buf[2:], now)
            return
        pos = 0
        on_text = self.on_text
        while n - pos >= 2:
            b0, ln = buf[pos], buf[pos + 1] & 0x7F
            hdr = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln, hdr = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln, hdr = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + hdr + ln
            if end > n:
                break
            payload = buf[pos + hdr : end]
            pos = end
            op = b0 & 0x0F
            if op == 1 and b0 & 0x80:
                if b0 & 0x40:  # RSV1: a compressed message
                    payload = self.inflater.decompress(payload + _TAIL)
                on_text(self, payload, now)
            else:
                self._control(b0, op, payload, now)
        self.buf = buf[pos:] if pos < n else b""

    def _control(self, b0: int, op: int, payload: bytes, now: int) -> None:
        if op == 9:  # ping -> pong
            self.transport.write(_frame(0xA, payload))
        elif op == 8:  # close -> echo the code and close
            if self.close_code is None:
                self.close_code = (
                    int.from_bytes(payload[:2], "big") if payload else 1005
                )
            if not self.closed:
                self.transport.write(_frame(0x8, payload[:2]))
                self.transport.close()
        elif op == 1:  # first fragment of a text message
            self.frag = [payload]
            self.frag_compressed = bool(b0 & 0x40)
        elif op == 0 and self.frag is not None:
            self.frag.append(payload)
            if b0 & 0x80:
                whole, self.frag = b"".join(self.frag), None
                if self.frag_compressed:
                    whole = self.inflater.decompress(whole + _TAIL)
                self.on_text(self, whole, now)

    def _accept_extensions(self, head: bytes) -> None:
        """Set up permessage-deflate if the server's 101 accepted it."""
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-extensions" and (
                value.strip().startswith("permessage-deflate")
            ):
                server_bits = _window_bits(value, "server_max_window_bits")
                client_bits = _window_bits(value, "client_max_window_bits")
                self.inflater = zlib.decompressobj(wbits=-server_bits)
                self.deflate_bits = max(9, client_bits)
                self.deflater = zlib.compressobj(wbits=-self.deflate_bits)
                self.deflate_reset = "client_no_context_takeover" in value

    # -- sending ----------------------------------------------------------------------
    def send(self, payload: bytes) -> None:
        """Send one text frame (payload is UTF-8 JSON bytes), compressed when
        permessage-deflate was agreed."""
        if self.closed:
            return
        if self.deflater is None:
            self.transport.write(_frame(1, payload))
            return
        deflater = self.deflater
        if self.deflate_reset:  # client_no_context_takeover: no shared history
            deflater = zlib.compressobj(wbits=-self.deflate_bits)
        data = deflater.compress(payload) + deflater.flush(zlib.Z_SYNC_FLUSH)
        self.transport.write(_frame(1, data[:-4], rsv1=True))

    def send_json(self, obj: object) -> None:
        self.send(orjson.dumps(obj))

    def close(self) -> None:
        self.closing = True
        if self.transport is not None and not self.closed:
            self.transport.write(_frame(0x8, (1000).to_bytes(2, "big")))
            self.transport.close()

    # -- setup phase: wait for a frame of given types ----------------------------------
    def setup_frame(self, payload: bytes, now: int) -> None:
        """Setup-time handler: resolve the `expect()` waiter, else keep the frame (the
        first frames can come in the same read as the handshake, before any waiter)."""
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        kind = msg.get("type")
        if kind == "error":
            self.errors.append(msg.get("data") or {})
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.backlog.append(msg)
        elif kind in self._want:
            waiter.set_result(msg)
        elif kind in ("error", "auth_error"):
            waiter.set_exception(RuntimeError(f"server answered {payload[:200]!r}"))

    async def expect(
        self, *types: str, timeout: float = 10.0, send: object = None
    ) -> dict:
        """Wait (bounded) for the next frame whose `type` is one of `types`, after
        sending `send` (a JSON-able object) if given. Other frames are skipped."""
        while self.backlog and send is None:
            msg = self.backlog.popleft()
            kind = msg.get("type")
            if kind in types:
                return msg
            if kind in ("error", "auth_error"):
                raise RuntimeError(f"server answered {msg!r:.200}")
        self.backlog.clear()
        self._want = frozenset(types)
        self._waiter = asyncio.get_running_loop().create_future()
        if send is not None:
            self.send_json(send)
        try:
            return await asyncio.wait_for(self._waiter, timeout)
        finally:
            self._waiter = None


async def connect(
    host: str,
    port: int,
    path: str,
    index: int,
    timeout: float = 10.0,
    deflate: bool = False,
) -> WSConn:
    """Open the TCP socket and finish the WebSocket handshake (bounded)."""
    loop = asyncio.get_running_loop()
    _, conn = await asyncio.wait_for(
        loop.create_connection(
            lambda: WSConn(f"{host}:{port}", path, index, deflate), host, port
        ),
        timeout,
    )
    await asyncio.wait_for(conn.opened, timeout)
    return conn
