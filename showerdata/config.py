"""Settings read from dask's configuration, so users set them the dask way.

>>> import dask
>>> with dask.config.set({"showerdata.chunk-bytes": "16MiB"}):
...     showers = showerdata.load("big.h5")  # doctest: +SKIP
"""

from __future__ import annotations

import dask
from dask.utils import parse_bytes

CHUNK_BYTES_KEY = "showerdata.chunk-bytes"
DEFAULT_CHUNK_BYTES = 64 * 2**20
#: Padded points of one inner chunk of a zarr shard: what one shower costs to read.
INNER_CHUNK_BYTES = 512 * 2**10


def chunk_bytes() -> int:
    """Target size in bytes of one padded ``points`` chunk."""
    value = dask.config.get(CHUNK_BYTES_KEY, DEFAULT_CHUNK_BYTES)
    return parse_bytes(value) if isinstance(value, str) else int(value)


def showers_per_chunk(max_points: int, num_features: int) -> int:
    """Chunk length along the shower axis for padded points of this shape.

    Chosen so that one padded float32 chunk is about :func:`chunk_bytes`; at
    least one shower per chunk. Where a chunk holds several inner chunks of a
    zarr shard (:func:`inner_chunk_length`), it holds a whole number of them,
    so data read from any file can be saved to zarr without rechunking.
    """
    bytes_per_shower = max(1, max_points) * max(1, num_features) * 4
    length = max(1, chunk_bytes() // bytes_per_shower)
    inner = max(1, INNER_CHUNK_BYTES // bytes_per_shower)
    return length - length % inner if length >= inner else length


def inner_chunk_length(shard_length: int, max_points: int, num_features: int) -> int:
    """Showers per inner chunk of a zarr shard of ``shard_length`` showers.

    About :data:`INNER_CHUNK_BYTES` of padded points, and a divisor of the
    shard length (zarr needs shards made of whole inner chunks).
    """
    bytes_per_shower = max(1, max_points) * max(1, num_features) * 4
    target = max(1, min(shard_length, INNER_CHUNK_BYTES // bytes_per_shower))
    return next(n for n in range(target, 0, -1) if shard_length % n == 0)


def chunk_lengths(num_showers: int, chunk_length: int) -> tuple[int, ...]:
    """Split ``num_showers`` into chunks of ``chunk_length`` (last one shorter)."""
    if num_showers == 0:
        return (0,)
    full, rest = divmod(num_showers, chunk_length)
    return (chunk_length,) * full + ((rest,) if rest else ())
