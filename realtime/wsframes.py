"""Server text frames serialized once for every socket they go to, and
permessage-deflate (RFC 7692) without per-socket compression state.

A fan-out writes the same text to many sockets. websockets serializes it again
for each (a Frame object, its header, the join of its output); here the whole
frame is made once and the same bytes are written to every socket
(`FrameCache.frame`, a small cache keyed by the text, whose hash Python keeps).

Browsers offer permessage-deflate on every socket. uvicorn accepts it with
context takeover: each socket keeps a zlib compressor and decompressor for its
whole life (+48 KiB per idle socket, measured), and every socket's copy of a
fan-out frame is compressed again for that socket (1.9x the CPU per delivery).

Here the server answers the offer with `server_no_context_takeover;
client_no_context_takeover` (RFC 7692 lets the server require both): every
message is compressed on its own, so

- no zlib state outlives a message (websockets drops the decompressor after each
  received message; the compressor is never made per socket), and
- the compressed form of a frame depends on its text alone, so a frame fanned
  out to many sockets is compressed once, in the same cache.

The price is the wire: a message cannot refer to earlier ones, so a ~300-byte
chat shrinks to about 0.75x instead of 0.1-0.2x; large frames (room_state,
history pages) still shrink several times. Frames under `WS_DEFLATE_MIN_BYTES`
go uncompressed (RFC 7692 allows it per message): zlib cannot save much there.
`WS_DEFLATE_CONTEXT_TAKEOVER=1` restores uvicorn's own negotiation (a zlib pair
per socket, best compression, most memory).

Deflate is on only when uvicorn's `--ws-per-message-deflate` is (its default).
"""

from __future__ import annotations

import struct
import zlib

from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)

# uvicorn's parameters (websockets_sansio_impl): 4 KiB windows, memLevel 5.
WINDOW_BITS = 12
MEM_LEVEL = 5
DEFAULT_MIN_BYTES = 128
CACHE_ENTRIES = 256  # distinct recent frames kept
# Larger frames (room_state, history pages) are made for one socket: not kept.
CACHE_MAX_BYTES = 16384

_TAIL = b"\x00\x00\xff\xff"  # ends every Z_SYNC_FLUSH; RFC 7692 drops it
_FIN_TEXT = 0x81
_FIN_TEXT_RSV1 = 0xC1  # RSV1: this message is compressed


def extension_factory(context_takeover: bool) -> ServerPerMessageDeflateFactory:
    """The permessage-deflate the server agrees to."""
    return ServerPerMessageDeflateFactory(
        server_no_context_takeover=not context_takeover,
        client_no_context_takeover=not context_takeover,
        server_max_window_bits=WINDOW_BITS,
        client_max_window_bits=WINDOW_BITS,
        compress_settings={"memLevel": MEM_LEVEL},
    )


def _header(first: int, length: int) -> bytes:
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


class FrameCache:
    """Server text frames cached by text, for every socket that agreed to the
    same compression: none (`min_bytes` None), or deflate without context
    takeover with a window of `window_bits`."""

    def __init__(self, window_bits: int, min_bytes: int | None) -> None:
        self.window_bits = window_bits
        self.min_bytes = min_bytes
        self.cache: dict[str, bytes] = {}

    def frame(self, text: str) -> bytes:
        """The whole frame (header and payload) carrying `text` as one message."""
        cached = self.cache.get(text)
        if cached is not None:
            return cached
        data = text.encode()
        frame = None
        if self.min_bytes is not None and len(data) >= self.min_bytes:
            encoder = zlib.compressobj(wbits=-self.window_bits, memLevel=MEM_LEVEL)
            packed = encoder.compress(data) + encoder.flush(zlib.Z_SYNC_FLUSH)
            packed = packed[: -len(_TAIL)]
            if len(packed) < len(data):
                frame = _header(_FIN_TEXT_RSV1, len(packed)) + packed
        if frame is None:
            frame = _header(_FIN_TEXT, len(data)) + data
        if len(frame) > CACHE_MAX_BYTES:
            return frame
        cache = self.cache
        if len(cache) >= CACHE_ENTRIES:
            del cache[next(iter(cache))]
        cache[text] = frame
        return frame


_caches: dict[tuple[int, int | None], FrameCache] = {}


def cache_for(extensions: list, min_bytes: int) -> FrameCache | None:
    """The FrameCache for a socket whose handshake agreed to `extensions`, or
    None when its frames must go through websockets (deflate with context
    takeover: each socket's compressor has its own history)."""
    if not extensions:
        key: tuple[int, int | None] = (0, None)
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = FrameCache(0, None)
        return cache
    if len(extensions) != 1:
        return None
    ext = extensions[0]
    if not isinstance(ext, PerMessageDeflate) or not ext.local_no_context_takeover:
        return None
    key = (ext.local_max_window_bits, min_bytes)
    cache = _caches.get(key)
    if cache is None:
        cache = _caches[key] = FrameCache(ext.local_max_window_bits, min_bytes)
    return cache
