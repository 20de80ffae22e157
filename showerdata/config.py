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


def chunk_bytes() -> int:
    """Target size in bytes of one padded ``points`` chunk."""
    value = dask.config.get(CHUNK_BYTES_KEY, DEFAULT_CHUNK_BYTES)
    return parse_bytes(value) if isinstance(value, str) else int(value)


def showers_per_chunk(max_points: int, num_features: int) -> int:
    """Chunk length along the shower axis for padded points of this shape.

    Chosen so that one padded float32 chunk is about :func:`chunk_bytes`; at
    least one shower per chunk.
    """
    bytes_per_shower = max(1, max_points) * max(1, num_features) * 4
    return max(1, chunk_bytes() // bytes_per_shower)


def chunk_lengths(num_showers: int, chunk_length: int) -> tuple[int, ...]:
    """Split ``num_showers`` into chunks of ``chunk_length`` (last one shorter)."""
    if num_showers == 0:
        return (0,)
    full, rest = divmod(num_showers, chunk_length)
    return (chunk_length,) * full + ((rest,) if rest else ())
