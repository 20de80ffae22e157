"""Computing lazy data chunk by chunk with a bounded number of chunks in flight.

Writers consume :func:`iter_blocks`: it yields the blocks of aligned fields in
order while the next window of chunks is already being computed by dask (local
threads, processes or a distributed cluster), so computing overlaps writing and
peak memory is about two windows of chunks, whatever the size of the data.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import dask
import numpy as np

from .bundle import is_lazy_array
from .graphs import compute_chunks
from .progress import progress_bar

WINDOW_KEY = "showerdata.chunks-in-flight"


def active_client() -> Any:
    """The ``distributed.Client`` that computations use now, or None."""
    if dask.config.get("scheduler", None) not in (None, "dask.distributed"):
        return None
    # A client needs distributed imported; importing it only to ask costs 0.3 s.
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


def chunks_in_flight() -> int:
    """How many chunks to compute at once: the workers available, or the config."""
    configured = dask.config.get(WINDOW_KEY, None)
    if configured:
        return int(configured)
    client = active_client()
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return int(dask.config.get("num_workers", None) or os.cpu_count() or 1)


def iter_blocks(
    fields: Mapping[str, Any],
    *,
    chunk_length: int = 65536,
    progress: bool = False,
    description: str = "writing",
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield ``(start, {name: numpy block})`` covering all rows in order.

    Lazy fields must share their chunking along the first axis; in-memory
    fields are cut into views of ``chunk_length`` rows without copying.
    """
    names = list(fields)
    length = len(next(iter(fields.values())))
    bar = progress_bar(progress, total=length, unit="showers", desc=description)
    try:
        if not any(is_lazy_array(f) for f in fields.values()):
            for start in range(0, length, chunk_length):
                yield start, {n: fields[n][start : start + chunk_length] for n in names}
                bar.update(min(chunk_length, length - start))
            return
        for start, values in _computed_chunks([fields[n] for n in names]):
            yield start, dict(zip(names, values, strict=True))
            bar.update(len(values[0]))
    finally:
        bar.close()


def _computed_chunks(arrays: list[Any]) -> Iterator[tuple[int, list[np.ndarray]]]:
    lengths = arrays[0].chunks[0]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int).tolist()
    window = chunks_in_flight()
    groups = [
        range(i, min(i + window, len(lengths))) for i in range(0, len(lengths), window)
    ]

    def compute(group: range) -> list[list[np.ndarray]]:
        # One pass per window over all fields: keys they share (e.g. points and
        # the num_points counted from them) run once per chunk.
        return compute_chunks(arrays, group)

    with ThreadPoolExecutor(1, thread_name_prefix="showerdata-compute") as pool:
        pending: Future | None = pool.submit(compute, groups[0]) if groups else None
        for number, group in enumerate(groups):
            assert pending is not None
            values = pending.result()
            more = number + 1 < len(groups)
            pending = pool.submit(compute, groups[number + 1]) if more else None
            try:
                for chunk, fields in zip(group, values, strict=True):
                    yield starts[chunk], fields
            except GeneratorExit:
                if pending is not None:
                    pending.cancel()
                raise
            del values  # free this window before the next one arrives


def store_blocks(arrays: Mapping[str, Any], targets: Mapping[str, Any]) -> None:
    """Write each of ``arrays`` into the dataset of the same name in ``targets``.

    Lazy arrays are computed a window of chunks at a time (see
    :func:`iter_blocks`); in-memory ones are written whole.
    """
    length = len(next(iter(arrays.values()))) if arrays else 0
    for start, block in iter_blocks(arrays, chunk_length=max(length, 1)):
        for name, piece in block.items():
            targets[name][start : start + len(piece)] = piece
