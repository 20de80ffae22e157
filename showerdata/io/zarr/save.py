"""Saving to zarr in parallel: every shard is written by the worker that computed it.

The fields are rechunked to the store's shard length, and the graph gets one
write task per shard that stores the rows of every field and then sets its
entry in the ``chunks_written`` record. Tasks need no lock (they own their
shards), run wherever dask runs them (threads, processes, a distributed
cluster), and return only a count. A resumed save writes only the shards
whose entry is unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask
import numpy as np
from dask.base import tokenize
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph

from ...bundle import is_lazy_array
from ...deferred import dask_array as da
from ...errors import ShowerDataError
from ...graphs import rechunk
from ...progress import progress_bar
from ...streaming import run_writes
from ..layout import points_dataset_names
from .store import (
    CHUNKS_WRITTEN,
    Location,
    describe,
    location_of,
    open_store,
    shard_length,
)
from .write import (
    create_particles_layout,
    create_showers_layout,
    new_file,
    write_rows,
    written_chunks,
)

#: How the names of the write tasks' layers begin.
WRITE_LAYER = "write-zarr-"
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


def write_chunk(
    location: Location, start: int, names: tuple[str, ...], *blocks: Any
) -> int:
    """Task: write one shard of every field into the store at ``location``."""
    from ..files import handle

    write_rows(
        handle(location, writable=True), start, dict(zip(names, blocks, strict=True))
    )
    return len(blocks[0])


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
    """Block lengths of rows ``start:start + count`` cut at the store's shard edges."""
    edges = [start, *range((start // chunk + 1) * chunk, start + count, chunk)]
    edges.append(start + count)
    return tuple(b - a for a, b in zip(edges[:-1], edges[1:], strict=True)) or (0,)


def save_fields(
    fields: Mapping[str, Any],
    location: Location,
    shape: tuple[int, int, int] | None,
    overwrite: bool,
    progress: bool,
    resume: bool,
    chunk_length: int,
    scheduler: Any = None,
    attributes: Mapping[str, Any] | None = None,
) -> None:
    """Write aligned fields to a new store (showers if ``shape`` is given).

    Parameters
    ----------
    fields : mapping of str to array
        Numpy or dask arrays, one per field, aligned along showers.
    location : str, os.PathLike or zarr store
        Destination store.
    shape : tuple of int or None
        (N, P, F) of showers; None for incident particles.
    overwrite, progress, resume
        As in :func:`showerdata.save`.
    chunk_length : int
        Shard length to use unless the lazy fields have a regular chunking.
    scheduler : optional
        Where the write tasks run (``"sync"`` inside a dask task); default:
        the active scheduler.
    attributes : mapping, optional
        Root attributes, set before the store is complete.
    """
    length = len(next(iter(fields.values())))
    chunk = uniform_chunk_length(list(fields.values()), chunk_length)
    chunk = max(1, min(chunk, length))
    with new_file(location, overwrite, resume=resume) as group:
        if CHUNKS_WRITTEN in group:
            _check_resumable(group, fields, chunk, describe(location))
        elif shape is not None:
            create_showers_layout(group, shape, chunk_length=chunk)
        else:
            create_particles_layout(group, length, chunk_length=chunk)
        record = group[CHUNKS_WRITTEN]
        todo = np.flatnonzero(~written_chunks(record)).tolist()
        write_blocks(fields, group, 0, chunk, todo, progress, scheduler)
        if not written_chunks(record).all():
            raise ShowerDataError(
                "not every chunk was written", path=describe(location)
            )
        for key, value in (attributes or {}).items():
            group.attrs[key] = value


def save_rows(
    fields: Mapping[str, Any], location: Location, start: int, progress: bool = False
) -> None:
    """Write aligned fields into rows ``start ...`` of an existing store.

    Blocks are cut at the store's shard edges and written in parallel; only a
    shard at either end of the region can be shared with another writer.
    """
    group = open_store(location, "r+")
    first = next(iter(fields))
    chunk = shard_length(group[DATASET_OF_FIELD.get(first, first)])
    count = len(fields[first])
    blocks = list(range(len(grid_lengths(start, count, chunk))))
    write_blocks(fields, group, start, chunk, blocks, progress)


def write_blocks(
    fields: Mapping[str, Any],
    group: Any,
    start: int,
    chunk: int,
    blocks: list[int],
    progress: bool,
    scheduler: Any = None,
) -> None:
    """Write the listed blocks of rows ``start ...`` cut at the store's shard edges.

    Lazy fields: one dask task per block, run where dask runs it (the task
    opens the store by its location). In-memory fields: views of each block
    written by a pool of threads (zarr compresses without the GIL), with no
    dask graph and no copy.
    """
    count = len(next(iter(fields.values())))
    lengths = grid_lengths(start, count, chunk)
    done = count - sum(lengths[i] for i in blocks)
    if any(is_lazy_array(values) for values in fields.values()):
        arrays = aligned_arrays(fields, lengths)
        tasks = write_tasks(location_of(group), arrays, start, blocks)
        run_writes(tasks, count, progress, WRITE_LAYER, done, scheduler)
        return
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(int).tolist()
    datasets = {DATASET_OF_FIELD.get(n, n): v for n, v in fields.items()}

    def write(block: int) -> int:
        first, last = offsets[block], offsets[block + 1]
        pieces = {name: values[first:last] for name, values in datasets.items()}
        write_rows(group, start + first, pieces)
        return last - first

    threads = int(dask.config.get("num_workers", None) or os.cpu_count() or 1)
    with (
        progress_bar(progress, total=count, initial=done, unit="showers") as bar,
        ThreadPoolExecutor(threads, thread_name_prefix="showerdata-zarr") as pool,
    ):
        for written in pool.map(write, blocks):
            bar.update(written)


def _check_resumable(
    group: Any, fields: Mapping[str, Any], chunk: int, name: str
) -> None:
    for field, values in fields.items():
        dataset = DATASET_OF_FIELD.get(field, field)
        stored = group[dataset] if dataset in group else None
        if (
            stored is None
            or stored.shape != values.shape
            or shard_length(stored) != chunk
        ):
            raise ShowerDataError(
                f"cannot resume: the interrupted save has "
                f"{None if stored is None else stored.shape} in chunks of "
                f"{None if stored is None else shard_length(stored)}, the data "
                f"{values.shape} in chunks of {chunk}; save without resume=True",
                path=name,
                dataset=dataset,
            )


def write_tasks(
    location: Location, arrays: Mapping[str, da.Array], start: int, blocks: list[int]
) -> list[Delayed]:
    """One task per block: write block ``i`` of every array at its rows."""
    names = tuple(arrays)
    lengths = next(iter(arrays.values())).chunks[0]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(int).tolist()
    token = tokenize(
        describe(location), names, [a.name for a in arrays.values()], start
    )
    layer = f"{WRITE_LAYER}{token}"
    tasks: dict[Any, Any] = {}
    for i in blocks:
        values = [(a.name, i, *(0,) * (a.ndim - 1)) for a in arrays.values()]
        tasks[(layer, i)] = (write_chunk, location, start + offsets[i], names, *values)
    graph = HighLevelGraph.from_collections(layer, tasks, list(arrays.values()))
    return [Delayed((layer, i), graph, layer=layer) for i in blocks]
