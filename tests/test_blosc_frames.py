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


def _frame(values: np.ndarray) -> np.ndarray:
    out = np.empty(values.nbytes + blosc_frames.MAX_OVERHEAD + 2**20, np.uint8)
    size = blosc_frames.compress_into(
        values,
        out,
        cname="lz4",
        clevel=3,
        shuffle=Blosc.SHUFFLE,
        typesize=4,
        blocksize=0,
    )
    return out[:size].copy()


def test_spliced_pieces_make_the_frame_of_the_whole():
    values = np.repeat(np.arange(300_000, dtype=np.float32), 2)  # 2.4 MB
    whole = _frame(values)
    block = blosc_frames.FrameHeader.parse(whole).blocksize // 4  # items
    splicer = blosc_frames.FrameSplicer(values.nbytes)
    pieces = [values[: 4 * block], values[4 * block :]]
    data = [splicer.add(_frame(p), 2**30) for p in pieces]
    assert all(d is not None for d in data)
    spliced = splicer.head() + b"".join(bytes(d) for d in data)
    assert spliced == bytes(whole)


def test_pieces_that_cannot_make_the_whole_frame_are_refused():
    values = np.repeat(np.arange(300_000, dtype=np.float32), 2)
    block = blosc_frames.FrameHeader.parse(_frame(values)).blocksize // 4
    # A first piece within one block: its blocks may be cut to its size.
    assert (
        blosc_frames.FrameSplicer(values.nbytes).add(_frame(values[:100]), 2**30)
        is None
    )
    # A piece of part of a block that is not the last one.
    splicer = blosc_frames.FrameSplicer(values.nbytes)
    assert splicer.add(_frame(values[: 2 * block + 7]), 2**30) is None
    # Not every piece in yet, or a piece compressed short of room.
    splicer = blosc_frames.FrameSplicer(values.nbytes)
    assert splicer.add(_frame(values[: 2 * block]), 2**30) is not None
    assert splicer.head() is None
    assert splicer.add(_frame(values[2 * block :]), 16) is None
