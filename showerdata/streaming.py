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
from contextlib import contextmanager
from typing import Any

import dask
import dask.threaded
import numpy as np
from dask.callbacks import Callback
from dask.delayed import Delayed

from .bundle import is_lazy_array
from .graphs import compute, compute_chunks
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
    scheduler: Any = None,
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield ``(start, {name: numpy block})`` covering all rows in order.

    Lazy fields must share their chunking along the first axis; in-memory
    fields are cut into views of ``chunk_length`` rows without copying.
    ``scheduler`` (e.g. ``"sync"`` inside a dask task): computes one chunk at
    a time on it, the next while the caller writes the last; default: a
    window of chunks at a time on the active scheduler.
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
        arrays = [fields[n] for n in names]
        for start, values in _computed_chunks(arrays, scheduler):
            yield start, dict(zip(names, values, strict=True))
            bar.update(len(values[0]))
    finally:
        bar.close()


def _computed_chunks(
    arrays: list[Any], scheduler: Any = None
) -> Iterator[tuple[int, list[np.ndarray]]]:
    lengths = arrays[0].chunks[0]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int).tolist()
    window = 1 if scheduler is not None else chunks_in_flight()
    groups = [
        range(i, min(i + window, len(lengths))) for i in range(0, len(lengths), window)
    ]

    def compute(group: range) -> list[list[np.ndarray]]:
        # One pass per window over all fields: keys they share (e.g. points and
        # the num_points counted from them) run once per chunk.
        return compute_chunks(arrays, group, scheduler)

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


@contextmanager
def _settled_threads() -> Iterator[dict[str, Any]]:
    """Options for ``compute`` that make the threads' writes end with it.

    When a write task fails, dask's threaded scheduler raises at once while
    the other tasks in flight keep writing; the output they write to would be
    removed under them (and refilled after). With a pool of our own, the
    error is raised once those tasks have ended. (No client is active.)
    """
    if dask.config.get("scheduler", None) not in (None, "threads", "threading"):
        yield {}
        return
    threads = int(dask.config.get("num_workers", None) or os.cpu_count() or 1)
    with ThreadPoolExecutor(threads, thread_name_prefix="showerdata-write") as pool:
        # The scheduler itself, not its name: a name makes dask import
        # distributed to look for a client.
        yield {"scheduler": dask.threaded.get, "pool": pool}


class _CountWrites(Callback):
    """Advance a progress bar as write tasks finish (local schedulers)."""

    def __init__(self, bar: Any, layer: str) -> None:
        super().__init__()
        self.bar = bar
        self.layer = layer

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, id: Any) -> None:
        if isinstance(key, tuple) and str(key[0]).startswith(self.layer):
            self.bar.update(int(result))


def run_writes(
    tasks: list[Delayed],
    total: int,
    progress: bool,
    layer: str,
    done: int = 0,
    scheduler: Any = None,
) -> None:
    """Run write tasks where dask runs them, with a progress bar of showers.

    Each task returns how many showers it wrote; ``layer`` is how the names
    of their layers begin. ``scheduler``: as for ``dask.compute`` (default:
    the active scheduler, a ``distributed.Client`` if one is).
    """
    if not tasks:
        return
    bar = progress_bar(
        progress, total=total, initial=done, unit="showers", desc="writing"
    )
    try:
        client = None if scheduler is not None else active_client()
        if client is None:
            with _CountWrites(bar, layer):
                if scheduler is not None:
                    compute(*tasks, scheduler=scheduler)
                else:
                    with _settled_threads() as options:
                        compute(*tasks, **options)
            return
        from distributed import as_completed

        futures = client.compute(tasks)
        for future in as_completed(futures):
            bar.update(future.result())
    finally:
        bar.close()
