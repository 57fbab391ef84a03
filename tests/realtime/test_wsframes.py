"""realtime.wsframes: text frames made once per fan-out; permessage-deflate
without per-socket zlib state."""

import os
import zlib

from websockets.extensions.permessage_deflate import PerMessageDeflate

from realtime import wsframes
from realtime.wsframes import FrameCache


def parse(frame: bytes) -> tuple[bool, bytes]:
    """(compressed?, payload) of one unmasked, final text frame."""
    first, length = frame[0], frame[1]
    assert first & 0x0F == 0x1 and first & 0x80, "a final text frame"
    offset = 2
    if length == 126:
        length, offset = int.from_bytes(frame[2:4], "big"), 4
    elif length == 127:
        length, offset = int.from_bytes(frame[2:10], "big"), 10
    payload = frame[offset:]
    assert len(payload) == length
    return bool(first & 0x40), payload


def inflate(payload: bytes, bits: int = 12) -> bytes:
    # RFC 7692: append the sync-flush tail the sender dropped; no context.
    return zlib.decompressobj(wbits=-bits).decompress(payload + b"\x00\x00\xff\xff")


def test_a_frame_compresses_on_its_own_and_inflates_back():
    text = '{"type":"chat","data":{"content":"洛阳牡丹甲天下 ' + "好看" * 200 + '"}}'
    compressed, payload = parse(FrameCache(12, 128).frame(text))
    assert compressed
    assert len(payload) < len(text.encode()) // 3
    assert inflate(payload).decode() == text


def test_every_length_encoding_of_the_header():
    plain, packed = FrameCache(0, None), FrameCache(12, 0)
    for size in (125, 126, 65535, 65536, 200_000):
        text = os.urandom(size // 2 + 1).hex()[:size]
        assert parse(plain.frame(text)) == (False, text.encode())
        compressed, payload = parse(packed.frame(text))
        assert compressed and inflate(payload) == text.encode()


def test_short_frames_and_frames_zlib_cannot_shrink_go_uncompressed():
    assert parse(FrameCache(12, 128).frame('{"type":"pong"}')) == (
        False,
        b'{"type":"pong"}',
    )
    assert parse(FrameCache(12, 0).frame("ab")) == (False, b"ab")
    assert parse(FrameCache(12, 0).frame("")) == (False, b"")


def test_frames_too_large_to_be_shared_are_not_kept():
    cache = FrameCache(0, None)
    large = "x" * (wsframes.CACHE_MAX_BYTES + 1)
    assert parse(cache.frame(large)) == (False, large.encode())
    assert cache.cache == {}


def test_a_frame_is_compressed_once_for_every_socket_it_goes_to():
    shared = FrameCache(12, 0)
    text = '{"type":"chat"}' * 20
    same_text = text[:7] + text[7:]  # equal, another object
    assert same_text is not text
    assert shared.frame(text) is shared.frame(same_text)


def test_the_cache_keeps_the_most_recent_frames_only():
    shared = FrameCache(12, 0)
    for n in range(wsframes.CACHE_ENTRIES + 50):
        shared.frame(f"frame {n} " * 20)
    assert len(shared.cache) == wsframes.CACHE_ENTRIES
    assert f"frame {wsframes.CACHE_ENTRIES + 49} " * 20 in shared.cache
    assert "frame 0 " * 20 not in shared.cache


def agreed(**kw) -> PerMessageDeflate:
    params = dict(
        remote_no_context_takeover=True,
        local_no_context_takeover=True,
        remote_max_window_bits=12,
        local_max_window_bits=12,
    )
    return PerMessageDeflate(**{**params, **kw})


def test_sockets_share_frames_unless_deflate_keeps_context():
    plain = wsframes.cache_for([], 128)
    assert plain is wsframes.cache_for([], 128) and plain.min_bytes is None
    assert parse(plain.frame("chat " * 100)) == (False, b"chat " * 100)
    assert wsframes.cache_for([agreed(local_no_context_takeover=False)], 128) is None
    shared = wsframes.cache_for([agreed()], 128)
    assert shared is wsframes.cache_for([agreed()], 128)
    assert shared is not plain and parse(shared.frame("chat " * 100))[0]
    # a client that asked for a smaller server window gets frames made for it
    small = wsframes.cache_for([agreed(local_max_window_bits=9)], 128)
    assert small is not shared and small.window_bits == 9


def test_the_factory_requires_no_context_takeover_unless_told_otherwise():
    # what a browser offers: `permessage-deflate; client_max_window_bits`
    offer = [("client_max_window_bits", None)]
    params, ext = wsframes.extension_factory(False).process_request_params(offer, [])
    assert ("server_no_context_takeover", None) in params
    assert ("client_no_context_takeover", None) in params
    assert ext.local_no_context_takeover and ext.remote_no_context_takeover
    params, ext = wsframes.extension_factory(True).process_request_params(offer, [])
    assert not ext.local_no_context_takeover
    assert ("server_no_context_takeover", None) not in params
