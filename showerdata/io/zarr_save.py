"""Saving to zarr in parallel: every chunk is written by the worker that computed it.

The fields are rechunked to the store's chunk length, and the graph gets one
write task per chunk that stores the chunk of every field and then sets its
byte in the ``chunks_written`` record. Tasks need no lock (they own their
chunks), run wherever dask runs them (threads, processes, a distributed
cluster), and return only a count. A resumed save writes only the chunks
whose byte is unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask
import dask.array as da
import numpy as np
import zarr
from dask.base import tokenize
from dask.callbacks import Callback
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph

from ..bundle import is_lazy_array
from ..errors import ShowerDataError
from ..graphs import compute, rechunk
from ..progress import progress_bar
from .layout import points_dataset_names
from .read import point_reads
from .streaming import active_client
from .zarr_store import (
    CHUNKS_WRITTEN,
    Kept,
    open_store,
    store_identity,
    written_chunks,
)
from .zarr_write import (
    create_particles_layout,
    create_showers_layout,
    new_file,
    write_rows,
)

#: Dataset of each field of a bundle in the layout.
DATASET_OF_FIELD = {"points": points_dataset_names("showers")[0]}


def uniform_chunk_length(arrays: Sequence[Any], default: int) -> int:
    """The chunk length of lazy arrays if it is regular (zarr needs a regular grid)."""
    lazy = [a for a in arrays if isinstance(a, da.Array)]
    if not lazy:
        return default
    lengths = lazy[0].chunks[0]
    if len(lengths) > 1 and len(set(lengths[:-1])) == 1 and lengths[-1] <= lengths[0]:
        return int(lengths[0])
    if len(lengths) == 1:
        return max(1, int(lengths[0]))
    return default


def write_chunk(path: str, start: int, names: tuple[str, ...], *blocks: Any) -> int:
    """Task: write one chunk of every field into the store at ``path``."""
    write_rows(_opened(path), start, dict(zip(names, blocks, strict=True)))
    return len(blocks[0])


def _opened(path: str) -> zarr.Group:
    # Once per store (and version of it) and process, not once per task: the
    # checks of open_store read the metadata of every array.
    key = _store_key(path)
    group = _stores.get(key)
    if group is None:
        group = open_store(path, "r+")
        _stores.keep(key, group)
    return group


def _store_key(path: str) -> tuple[str, tuple[int, int, int]]:
    """Under what :data:`_stores` keeps the store at ``path`` as it is now."""
    return path, store_identity(path)


#: Stores kept open by the write tasks of this process.
_stores = Kept(limit=16)


def aligned_arrays(
    fields: Mapping[str, Any], lengths: tuple[int, ...]
) -> dict[str, da.Array]:
    """Fields as dask arrays in blocks of ``lengths``, keyed by dataset name."""
    return {
        DATASET_OF_FIELD.get(name, name): rechunk(
            da.asarray(values),
            {0: lengths, **{axis: -1 for axis in range(1, np.ndim(values))}},
        )
        for name, values in fields.items()
    }


def grid_lengths(start: int, count: int, chunk: int) -> tuple[int, ...]:
    """Block lengths of rows ``start:start + count`` cut at the store's chunk edges."""
    edges = [start, *range((start // chunk + 1) * chunk, start + count, chunk)]
    edges.append(start + count)
    return tuple(b - a for a, b in zip(edges[:-1], edges[1:], strict=True)) or (0,)


def save_to_store(
    fields: Mapping[str, Any],
    path: str,
    shape: tuple[int, int, int] | None,
    chunk_length: int,
    overwrite: bool,
    progress: bool,
    resume: bool,
) -> None:
    """Write aligned fields to a new store (showers if ``shape`` is given).

    Parameters
    ----------
    fields : mapping of str to array
        Numpy or dask arrays, one per field, aligned along showers.
    path : str
        Destination store.
    shape : tuple of int or None
        (N, P, F) of showers; None for incident particles.
    chunk_length : int
        Chunk length to use unless the lazy fields have a regular one.
    overwrite, progress, resume
        As in :func:`showerdata.save`.
    """
    length = len(next(iter(fields.values())))
    chunk = uniform_chunk_length(list(fields.values()), chunk_length)
    chunk = max(1, min(chunk, length))
    with new_file(path, overwrite, resume=resume) as group:
        if CHUNKS_WRITTEN in group:
            _check_resumable(group, fields, chunk, path)
        elif shape is not None:
            create_showers_layout(group, shape, chunk_length=chunk)
        else:
            create_particles_layout(group, length, chunk_length=chunk)
        record = group[CHUNKS_WRITTEN]
        everything = np.arange(record.shape[0])
        todo = everything[~written_chunks(record, everything)].tolist()
        root = str(group.store.root)  # type: ignore[attr-defined]
        # Write tasks run here use the group just made rather than reopen it.
        _stores.keep(_store_key(root), group)
        write_blocks(fields, root, 0, chunk, todo, progress)
        if not written_chunks(record, everything).all():
            raise ShowerDataError("not every chunk was written", path=path)


def save_region(
    fields: Mapping[str, Any], path: str, start: int, progress: bool = False
) -> None:
    """Write aligned fields into rows ``start ...`` of an existing store.

    Blocks are cut at the store's chunk edges and written in parallel; only a
    chunk at either end of the region can be shared with another writer, and
    that one is rewritten under a lock.
    """
    path = os.path.abspath(path)
    group = open_store(path, "r+")
    first = next(iter(fields))
    chunk = int(group[DATASET_OF_FIELD.get(first, first)].chunks[0])
    count = len(fields[first])
    blocks = list(range(len(grid_lengths(start, count, chunk))))
    write_blocks(fields, path, start, chunk, blocks, progress)


def write_blocks(
    fields: Mapping[str, Any],
    root: str,
    start: int,
    chunk: int,
    blocks: list[int],
    progress: bool,
) -> None:
    """Write the listed blocks of rows ``start ...`` cut at the store's chunk edges.

    Lazy fields: one dask task per block, run where dask runs it. In-memory
    fields: views of each block written by a pool of threads (zarr compresses
    without the GIL), with no dask graph and no copy.
    """
    count = len(next(iter(fields.values())))
    lengths = grid_lengths(start, count, chunk)
    if any(is_lazy_array(values) for values in fields.values()):
        arrays = aligned_arrays(fields, lengths)
        done = count - sum(lengths[i] for i in blocks)
        run_writes(write_tasks(root, arrays, start, blocks), count, progress, done)
        return
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(int).tolist()
    datasets = {DATASET_OF_FIELD.get(n, n): v for n, v in fields.items()}
    group = open_store(root, "r+")

    def write(block: int) -> int:
        first, last = offsets[block], offsets[block + 1]
        pieces = {name: values[first:last] for name, values in datasets.items()}
        write_rows(group, start + first, pieces)
        return last - first

    done = count - sum(lengths[i] for i in blocks)
    threads = int(dask.config.get("num_workers", None) or os.cpu_count() or 1)
    with (
        progress_bar(progress, total=count, initial=done, unit="showers") as bar,
        ThreadPoolExecutor(threads, thread_name_prefix="showerdata-zarr") as pool,
    ):
        for written in pool.map(write, blocks):
            bar.update(written)


def _check_resumable(
    group: Any, fields: Mapping[str, Any], chunk: int, path: str
) -> None:
    for field, values in fields.items():
        name = DATASET_OF_FIELD.get(field, field)
        stored = group.get(name)
        if stored is None or stored.shape != values.shape or stored.chunks[0] != chunk:
            raise ShowerDataError(
                f"cannot resume: the interrupted save has "
                f"{None if stored is None else stored.shape} in chunks of "
                f"{None if stored is None else stored.chunks[0]}, the data "
                f"{values.shape} in chunks of {chunk}; save without resume=True",
                path=path,
                dataset=name,
            )


def write_tasks(
    root: str, arrays: Mapping[str, da.Array], start: int, blocks: list[int]
) -> list[Delayed]:
    """One task per block: write block ``i`` of every array at its rows.

    Points read straight from a file (:func:`.read.point_reads`) are not
    computed as blocks: their write task reads them piece by piece into
    the chunk it compresses.
    """
    names = tuple(arrays)
    lengths = next(iter(arrays.values())).chunks[0]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(int).tolist()
    token = tokenize(root, names, [a.name for a in arrays.values()], start)
    layer = f"write-zarr-{token}"
    points = DATASET_OF_FIELD["points"]
    reads = point_reads(arrays[points]) if points in arrays else None
    tasks: dict[Any, Any] = {}
    for i in blocks:
        values = [
            reads[i] if reads and name == points else (a.name, i, *(0,) * (a.ndim - 1))
            for name, a in arrays.items()
        ]
        tasks[(layer, i)] = (write_chunk, root, start + offsets[i], names, *values)
    computed = [a for name, a in arrays.items() if not (reads and name == points)]
    graph = HighLevelGraph.from_collections(layer, tasks, computed)
    return [Delayed((layer, i), graph, layer=layer) for i in blocks]


class _CountWrites(Callback):
    """Advance a progress bar as write tasks finish (local schedulers)."""

    def __init__(self, bar: Any) -> None:
        super().__init__()
        self.bar = bar

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, id: Any) -> None:
        if isinstance(key, tuple) and str(key[0]).startswith("write-zarr-"):
            self.bar.update(int(result))


def run_writes(tasks: list[Delayed], total: int, progress: bool, done: int = 0) -> None:
    """Run write tasks on the active scheduler, with a progress bar of showers."""
    if not tasks:
        return
    bar = progress_bar(
        progress, total=total, initial=done, unit="showers", desc="writing"
    )
    try:
        client = active_client()
        if client is None:
            with _CountWrites(bar):
                compute(*tasks)
            return
        from distributed import as_completed

        futures = client.compute(tasks)
        for future in as_completed(futures):
            bar.update(future.result())
    finally:
        bar.close()
