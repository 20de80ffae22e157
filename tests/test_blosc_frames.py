"""c-blosc called on our own buffers (io/blosc_frames.py) against numcodecs' Blosc."""

from __future__ import annotations

import numpy as np
import pytest
from numcodecs import Blosc

from showerdata.io import blosc_frames
from showerdata.io.blosc_frames import FrameHeader

SETTINGS = [
    {"cname": "lz4", "clevel": 5, "shuffle": Blosc.SHUFFLE, "blocksize": 0},
    {"cname": "lz4", "clevel": 5, "shuffle": Blosc.SHUFFLE, "blocksize": 8192},
    {"cname": "zstd", "clevel": 3, "shuffle": Blosc.NOSHUFFLE, "blocksize": 4096},
    {"cname": "blosclz", "clevel": 9, "shuffle": Blosc.SHUFFLE, "blocksize": 0},
]


def values(count=300_000):
    """Float32 values that compress partly, as showers do (a padded tail of zeros)."""
    rng = np.random.default_rng(3)
    data = rng.normal(size=count).astype(np.float32)
    data[count // 2 :] = 0
    return data


def test_the_library_we_ship_exports_what_we_call():
    assert blosc_frames.AVAILABLE  # numcodecs wheels export c-blosc's symbols


@pytest.mark.parametrize("settings", SETTINGS)
def test_compress_into_writes_numcodecs_frame_byte_for_byte(settings):
    data = values()
    out = np.full(data.nbytes + blosc_frames.MAX_OVERHEAD, 255, np.uint8)
    size = blosc_frames.compress_into(data, out, typesize=4, **settings)
    expected = Blosc(typesize=4, **settings).encode(data)
    assert out[:size].tobytes() == bytes(expected)


def test_compress_into_refuses_a_buffer_too_small():
    data = values(1000)
    with pytest.raises(ValueError, match="room"):
        blosc_frames.compress_into(
            data,
            np.empty(data.nbytes, np.uint8),
            cname="lz4",
            clevel=5,
            shuffle=1,
            typesize=4,
            blocksize=0,
        )


@pytest.mark.parametrize("settings", SETTINGS)
def test_blocks_decode_to_their_slice_of_the_data(settings):
    data = values()
    frame = np.frombuffer(Blosc(typesize=4, **settings).encode(data), np.uint8)
    header = FrameHeader.parse(frame)
    assert header is not None and header.nbytes == data.nbytes
    blocks = -(-header.nbytes // header.blocksize)
    assert blocks > 1
    for run in (1, 2, blocks):  # one block a call, pairs, all at once
        scratch = np.empty(run * header.blocksize, np.uint8)
        decoded = bytearray()
        for block in range(0, blocks, run):
            count = min(run, blocks - block)
            size = blosc_frames.decode_blocks(frame, header, block, count, scratch)
            decoded += scratch[:size].tobytes()
        assert bytes(decoded) == data.tobytes()
    with pytest.raises(ValueError, match="not in the frame"):
        blosc_frames.decode_blocks(frame, header, blocks, 1, scratch)
    with pytest.raises(ValueError, match="do not fit"):
        blosc_frames.decode_blocks(frame, header, 0, 2, scratch[: header.blocksize])


def test_headers_that_cannot_be_a_frame_are_refused():
    frame = np.frombuffer(Blosc(cname="lz4").encode(values(5000)), np.uint8)
    assert FrameHeader.parse(frame) is not None
    assert FrameHeader.parse(frame[:-1]) is None  # truncated
    assert FrameHeader.parse(frame[:10]) is None  # no whole header
    assert FrameHeader.parse(np.zeros(100, np.uint8)) is None
    garbled = frame.copy()
    garbled[8:12] = np.frombuffer(np.uint32(6).tobytes(), np.uint8)  # 6 % 4 != 0
    assert FrameHeader.parse(garbled) is None
    garbled[8:12] = np.frombuffer(np.uint32(2**31).tobytes(), np.uint8)
    assert FrameHeader.parse(garbled) is None  # blocks larger than the data
