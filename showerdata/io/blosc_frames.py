"""c-blosc's own functions on buffers we own: compress into one, decode one block.

numcodecs' ``Blosc`` returns every compressed chunk as a new bytes object (a
``showers`` chunk is tens of MiB of fresh memory, whose page faults cost more
than the compression), and decodes only whole frames. The c-blosc 1 library
numcodecs ships exports ``blosc_compress_ctx`` and ``blosc_getitem``, which
take our buffers and, called through ctypes, run without the GIL. Where a
numcodecs build does not export them, :data:`AVAILABLE` is False and the
callers leave the chunk to zarr.

A frame is c-blosc 1's: a 16-byte header (version, codec version, flags, type
size, then the decoded size, block size and frame size as little-endian
uint32), block offsets, then the blocks, each decoded on its own.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numcodecs.blosc
import numpy as np

HEADER_BYTES = 16
#: c-blosc 1's BLOSC_MAX_OVERHEAD: a frame is at most this much larger than its data.
MAX_OVERHEAD = 16


def _functions() -> tuple[Any, Any] | None:
    try:
        library = ctypes.CDLL(numcodecs.blosc.__file__)
        compress, getitem = library.blosc_compress_ctx, library.blosc_getitem
    except (OSError, AttributeError):
        return None
    compress.argtypes = [
        ctypes.c_int,  # clevel
        ctypes.c_int,  # shuffle
        ctypes.c_size_t,  # typesize
        ctypes.c_size_t,  # nbytes
        ctypes.c_void_p,  # src
        ctypes.c_void_p,  # dest
        ctypes.c_size_t,  # destsize
        ctypes.c_char_p,  # compressor name
        ctypes.c_size_t,  # blocksize (0: c-blosc chooses)
        ctypes.c_int,  # threads
    ]
    compress.restype = ctypes.c_int
    getitem.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    getitem.restype = ctypes.c_int
    return compress, getitem


_FUNCTIONS = _functions()
AVAILABLE = _FUNCTIONS is not None


@dataclass(frozen=True)
class FrameHeader:
    """The sizes a frame's header states."""

    typesize: int
    nbytes: int  # decoded
    blocksize: int
    cbytes: int  # the whole frame

    @classmethod
    def parse(cls, frame: np.ndarray) -> FrameHeader | None:
        """The header of ``frame`` (uint8), or None if it cannot be one.

        A frame must state its own length and blocks no larger than its data
        that tile it in whole items; anything else is left to zarr, which
        reports the damage.
        """
        if len(frame) < HEADER_BYTES:
            return None
        head = frame[:HEADER_BYTES]
        sizes = head[4:16].view("<u4").astype(np.int64)
        header = cls(int(head[3]), int(sizes[0]), int(sizes[1]), int(sizes[2]))
        if (
            header.cbytes != len(frame)
            or header.typesize < 1
            or header.blocksize < 1
            or header.blocksize > header.nbytes
            or header.blocksize % header.typesize
            or header.nbytes % header.typesize
        ):
            return None
        return header


def compress_into(
    values: np.ndarray,
    out: np.ndarray,
    *,
    cname: str,
    clevel: int,
    shuffle: int,
    typesize: int,
    blocksize: int,
) -> int:
    """Compress the bytes of ``values`` into ``out``; returns the frame's length.

    ``out`` (uint8) needs ``values.nbytes + MAX_OVERHEAD`` bytes. The frame is
    the one numcodecs' ``Blosc`` with these settings returns, byte for byte.
    """
    assert _FUNCTIONS is not None, "check AVAILABLE first"
    if not values.flags.c_contiguous or len(out) < values.nbytes + MAX_OVERHEAD:
        raise ValueError("compress_into needs contiguous values and room for them")
    size = _FUNCTIONS[0](
        clevel,
        shuffle,
        typesize,
        values.nbytes,
        values.ctypes.data,
        out.ctypes.data,
        len(out),
        cname.encode(),
        blocksize,
        1,
    )
    if size <= 0:
        raise RuntimeError(f"c-blosc could not compress with {cname} (error {size})")
    return int(size)


def decode_blocks(
    frame: np.ndarray, header: FrameHeader, first: int, count: int, out: np.ndarray
) -> int:
    """Decode blocks ``first : first + count`` of ``frame`` into ``out``.

    Returns the length of the decoded bytes; ``out`` needs ``count *
    header.blocksize`` of them (the frame's last block may be shorter).
    """
    assert _FUNCTIONS is not None, "check AVAILABLE first"
    begin = first * header.blocksize
    size = min(count * header.blocksize, header.nbytes - begin)
    if count < 1 or size <= 0 or out.nbytes < size or not out.flags.c_contiguous:
        raise ValueError(f"blocks {first}+{count} are not in the frame or do not fit")
    got = _FUNCTIONS[1](
        frame.ctypes.data,
        begin // header.typesize,
        size // header.typesize,
        out.ctypes.data,
    )
    if got != size:
        raise ValueError(f"blocks {first}+{count} of the frame do not decode ({got})")
    return size


#: Header flag of a frame stored without compression (c-blosc's BLOSC_MEMCPYED).
MEMCPYED = 0x02


class FrameSplicer:
    """The frame of a buffer, made of the frames of consecutive pieces of it.

    c-blosc 1 cuts a buffer into blocks of a size that depends on the
    settings alone once the buffer holds a block (see its
    ``compute_blocksize``) and compresses every block on its own. So the
    frame of the whole buffer is its header, its block offsets and the
    blocks of its pieces' frames, in order -- provided every piece but the
    last is whole blocks, the last holds the short block (if any) after at
    least one whole one, and no block was written short of room, which
    c-blosc does only near the end of its output buffer. :meth:`add` and
    :meth:`head` check all that and answer None where they cannot vouch for
    the bytes; the caller then compresses the buffer whole.
    """

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self.done = 0  # bytes of the buffer in the pieces so far
        self.data = 0  # bytes of block data so far
        self.first: FrameHeader | None = None
        self.flags: bytes = b""
        self.offsets: list[np.ndarray] = []

    @property
    def blocks(self) -> int:
        """Blocks of the whole buffer (0 until the first piece is added)."""
        if self.first is None:
            return 0
        return -(-self.nbytes // self.first.blocksize)

    def add(self, frame: np.ndarray, room: int) -> np.ndarray | None:
        """The block data of the next piece's ``frame``, or None if it cannot join.

        ``room`` is the size of the buffer the piece was compressed into.
        """
        header = FrameHeader.parse(frame)
        if (
            header is None
            or frame[2] & MEMCPYED
            or header.cbytes + header.blocksize > room
        ):
            return None
        last = self.done + header.nbytes == self.nbytes
        if self.first is None:
            if header.blocksize >= header.nbytes and not last:
                return None  # maybe cut to the piece: the buffer's blocks may be larger
            self.first, self.flags = header, bytes(frame[:4])
        elif bytes(frame[:4]) != self.flags or header.blocksize != self.first.blocksize:
            return None
        blocksize = header.blocksize
        whole_blocks = header.nbytes % blocksize == 0
        if not (header.nbytes >= blocksize and (whole_blocks or last)):
            return None
        count = -(-header.nbytes // blocksize)
        starts = frame[HEADER_BYTES : HEADER_BYTES + 4 * count].view("<i4")
        begin = HEADER_BYTES + 4 * count
        if len(starts) != count or int(starts[0]) != begin:
            return None
        # Offsets in the whole frame: after its own header, offsets and the
        # block data of the pieces before.
        shift = HEADER_BYTES + 4 * self.blocks + self.data - begin
        self.offsets.append(starts.astype(np.int64) + shift)
        self.done += header.nbytes
        self.data += header.cbytes - begin
        return frame[begin : header.cbytes]

    def head(self) -> bytes | None:
        """Header and block offsets of the whole frame, once every piece is in.

        None where the whole frame might differ: c-blosc shortens the room
        for a block near the end of an output buffer of ``nbytes +
        MAX_OVERHEAD`` bytes (and stores data that barely compresses as is).
        """
        if self.first is None or self.done != self.nbytes:
            return None
        size = HEADER_BYTES + 4 * self.blocks + self.data
        if (
            size + self.first.blocksize + 4 * self.first.typesize
            > self.nbytes + MAX_OVERHEAD
        ):
            return None
        offsets = np.concatenate(self.offsets)
        if len(offsets) != self.blocks:
            return None
        sizes = np.array([self.nbytes, self.first.blocksize, size], "<u4")
        return self.flags + sizes.tobytes() + offsets.astype("<i4").tobytes()
