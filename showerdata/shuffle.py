"""Shuffling showers of several files into one, out of core.

The permutation is drawn once, in memory (8 bytes per shower: the only thing
that grows with the data); the showers are then moved one output chunk at a
time, so memory stays at a few chunks whatever the size of the inputs. Each
chunk reads, per input, only the rows that land in it, in file order.

Two ways to move them:

- HDF5 to HDF5 (the common case), rows are copied as stored: read as
  variable-length rows, checked, put in order and written, never padded. This
  is I/O bound: HDF5 reads and writes every row as a separate heap object and
  one process writes, so it runs in the calling process, whatever scheduler is
  active.
- Otherwise (a zarr input or output, or :func:`shuffled` for lazy use), output
  chunk ``j`` is one dask task gathering its rows, and the result streams to
  the writer like any lazy :class:`~showerdata.Showers`.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np
from dask.base import tokenize

from .config import chunk_lengths, showers_per_chunk
from .deferred import dask_array as da
from .errors import ShowerDataError
from .graphs import lazy_from_tasks
from .io.api import get_file_shape, load, save
from .io.backends import is_zarr
from .io.layout import PER_SHOWER
from .legacy_shuffle import (  # 0.7's functions of this module
    add_parser_options,
    create_shuffled_indices,
    get_file_info,
    load_batch_by_indices,
    main,
    parse_args,
    process_in_batches,
)
from .progress import progress_bar
from .ragged import row_lengths, split_rows
from .showers import Showers

PathLike = str | os.PathLike[str]

#: Showers per chunk when rows are copied as stored: enough to amortise the
#: per-call costs of HDF5 selections, small enough to stay in cache.
ROWS_PER_CHUNK = 1000

__all__ = [
    "ChunkPlan",
    "add_parser_options",
    "create_shuffled_indices",
    "get_file_info",
    "load_batch_by_indices",
    "main",
    "parse_args",
    "process_in_batches",
    "ShuffleSource",
    "copy_rows",
    "plan_chunks",
    "shuffle_files",
    "shuffle_permutation",
    "shuffle_sources",
    "shuffled",
]


@dataclass(frozen=True)
class ShuffleSource:
    """One input of a shuffle: its path and how many of its first rows take part."""

    path: str
    num_showers: int
    max_points: int
    num_features: int


def shuffle_sources(
    inputs: Sequence[PathLike], max_showers_per_file: int | None = None
) -> list[ShuffleSource]:
    """Check that the inputs can be shuffled together and describe them.

    Parameters
    ----------
    inputs : sequence of path
        Shower files (HDF5 or zarr).
    max_showers_per_file : int, optional
        Use only the first rows of each file (0.7's ``--test N``).

    Raises
    ------
    ValueError
        No inputs, a negative ``max_showers_per_file``, or inputs whose showers
        differ in max points P or features F.
    """
    if not inputs:
        raise ValueError("shuffle needs at least one input file.")
    if max_showers_per_file is not None and max_showers_per_file < 0:
        raise ValueError(
            f"the number of showers per file must be >= 0, got {max_showers_per_file}."
        )
    sources = []
    for path in inputs:
        n, p, f = get_file_shape(path)
        if max_showers_per_file is not None:
            n = min(n, max_showers_per_file)
        sources.append(ShuffleSource(os.fspath(path), n, p, f))
    first = sources[0]
    for other in sources[1:]:
        if (other.max_points, other.num_features) != (
            first.max_points,
            first.num_features,
        ):
            raise ValueError(
                f"cannot shuffle '{other.path}' (P = {other.max_points}, F = "
                f"{other.num_features}) with '{first.path}' (P = {first.max_points}, "
                f"F = {first.num_features}): all inputs need the same max points and "
                "features per point."
            )
    return sources


def shuffle_permutation(num_showers: int, seed: int | None) -> np.ndarray:
    """The shuffle's order: output row k is input row ``permutation[k]``.

    Input rows are numbered through all inputs in order (the first file's rows,
    then the second's, ...). The same seed gives the same order however the
    work is chunked or scheduled.
    """
    return np.random.default_rng(seed).permutation(num_showers)


@dataclass(frozen=True)
class ChunkPlan:
    """Where the rows of one output chunk come from.

    ``groups`` holds, per input that contributes, ``(input, rows, places)``:
    the input's rows in file order and the place in the chunk of each.
    """

    start: int
    length: int
    groups: list[tuple[int, np.ndarray, np.ndarray]]


def plan_chunks(
    sources: Sequence[ShuffleSource], seed: int | None, chunk: int
) -> list[ChunkPlan]:
    """Cut the permutation of all sources' rows into output chunks."""
    counts = np.array([s.num_showers for s in sources], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    total = int(offsets[-1])
    permutation = shuffle_permutation(total, seed)
    plans, start = [], 0
    for length in chunk_lengths(total, chunk) if total else ():
        rows = permutation[start : start + length]
        source = np.searchsorted(offsets, rows, side="right") - 1
        # Sorting by (input, row) groups the rows by input, each in file
        # order, so each input is read with one sorted selection.
        order = np.lexsort((rows, source))
        bounds = np.flatnonzero(np.diff(source[order])) + 1
        groups = [
            (int(source[places[0]]), rows[places] - offsets[source[places[0]]], places)
            for places in np.split(order, bounds)
        ]
        plans.append(ChunkPlan(start, length, groups))
        start += length
    return plans


def _read_now(part: Showers) -> Showers:
    """In-memory form of a lazy selection, read in the calling task's thread."""
    # Rows of a file know how to read themselves straight into numpy arrays;
    # anything else is computed here, synchronously: a task must not start a
    # scheduler of its own.
    if part._source is not None:
        return part._source.read()
    return part._compute(scheduler="sync")


def gather_chunk(
    parts: list[Showers], places: list[np.ndarray]
) -> dict[str, np.ndarray]:
    """Task: read one output chunk from its parts, each row to its place.

    ``parts[i]`` holds rows of one input in file order; ``places[i]`` says
    where in the chunk each of them goes.
    """
    length = sum(len(where) for where in places)
    chunk: dict[str, np.ndarray] = {}
    for part, where in zip(parts, places, strict=True):
        rows = _read_now(part)._fields()
        if not chunk:
            chunk = {
                name: np.zeros((length, *values.shape[1:]), values.dtype)
                for name, values in rows.items()
            }
        for name, values in rows.items():
            chunk[name][where] = values
    return chunk


def shuffled(
    inputs: Sequence[PathLike],
    seed: int | None = None,
    *,
    max_showers_per_file: int | None = None,
    overwrite_ids: bool = False,
    chunks: int | None = None,
) -> Showers:
    """Lazy showers of all inputs in a seeded random order.

    Nothing is read until the result is computed or saved; then each output
    chunk reads only its own rows from the inputs.

    Parameters
    ----------
    inputs : sequence of path
        Shower files (HDF5 or zarr) with equal max points P and features F.
    seed : int, optional
        Seed of the permutation (see :func:`shuffle_permutation`); None draws
        a fresh one.
    max_showers_per_file : int, optional
        Use only the first rows of each file.
    overwrite_ids : bool
        Number the showers 0..N-1 in output order instead of keeping their ids.
    chunks : int, optional
        Showers per output chunk; default about ``showerdata.chunk-bytes`` of padded
        points.

    Returns
    -------
    Showers
        Lazy, chunked along showers.
    """
    sources = shuffle_sources(inputs, max_showers_per_file)
    chunk = chunks or showers_per_chunk(sources[0].max_points, sources[0].num_features)
    # Parts of a chunk are read whole: one piece per selection.
    files = [load(s.path, 0, s.num_showers, chunks=chunk) for s in sources]
    plans = plan_chunks(sources, seed, chunk)
    if not plans:
        return files[0][:0]
    token = tokenize([(s.path, s.num_showers) for s in sources], seed, chunk)
    gathered = f"shuffled-{token}"
    tasks = {
        (gathered, number): (
            gather_chunk,
            [files[index][rows] for index, rows, _ in plan.groups],
            [places for _, _, places in plan.groups],
        )
        for number, plan in enumerate(plans)
    }
    lengths = [plan.length for plan in plans]
    fields = {}
    for name in Showers.FIELDS:
        reference = getattr(files[0], name)
        fields[name] = lazy_from_tasks(
            f"shuffled-{name}-{token}",
            operator.getitem,
            [((gathered, number), name) for number in range(len(plans))],
            lengths,
            reference.shape[1:],
            reference.dtype.name,
            dependencies=tasks,
        )
    if overwrite_ids:
        fields["shower_ids"] = da.arange(
            sum(lengths), chunks=(tuple(lengths),), dtype=np.int32
        )
    return Showers._from_fields(fields)


# -- HDF5 to HDF5: rows as stored -----------------------------------------------------


def _check_rows(
    rows: np.ndarray,
    num_points: np.ndarray,
    source: ShuffleSource,
    file_rows: np.ndarray,
) -> None:
    """The checks the reader makes, on rows of one input (in file order)."""
    features, max_points = source.num_features, source.max_points
    lengths = row_lengths(rows)
    bad = (lengths != num_points.astype(np.int64) * features) | (
        (num_points < 0) | (num_points > max_points)
    )
    problem = "row length disagrees with num_points (or num_points exceeds P)"
    if not bad.any() and len(rows):
        flat = np.concatenate(list(rows))
        # One pass each: a sum is finite only if every value is, and a real
        # point has a positive energy (zero would be padding inside a shower).
        if np.isfinite(flat.sum(dtype=np.float64)) and (
            not flat.size or flat[3::features].min() > 0
        ):
            return
        bad = np.array(
            [not np.isfinite(r).all() or (r[3::features] <= 0).any() for r in rows]
        )
        problem = "point values are NaN or infinite, or an energy is not positive"
    first = int(np.argmax(bad))
    raise ShowerDataError(
        problem, path=source.path, dataset="showers", index=int(file_rows[first])
    )


def _plan_rows(
    files: Sequence[Any], sources: Sequence[ShuffleSource], plan: ChunkPlan
) -> np.ndarray:
    """The checked rows of one output chunk, in output order, as views of one buffer.

    Rows are copied from the inputs' bytes by the direct heap reader where it
    applies (no object per row, no GIL), else read through h5py.
    """
    from .config import hdf5_fast_reader
    from .io.hdf5.heap_rows import heap_rows
    from .io.hdf5.read import read_selection

    features = sources[0].num_features
    counts = [
        read_selection(files[i], "num_points", rows) for i, rows, _ in plan.groups
    ]
    lengths = np.empty(plan.length, np.int64)
    for (_, _, places), group_counts in zip(plan.groups, counts, strict=True):
        lengths[places] = group_counts.astype(np.int64) * features
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.empty(int(offsets[-1]), np.float32)
    for (index, file_rows, places), group_counts in zip(
        plan.groups, counts, strict=True
    ):
        fast = hdf5_fast_reader() is not False
        direct = heap_rows(files[index], "showers") if fast else None
        if (
            direct is None
            or not np.array_equal(direct.lengths(file_rows), lengths[places])
            or (group_counts > sources[index].max_points).any()
            or not direct.gather_flat(file_rows, flat, offsets[places])
        ):
            read = read_selection(files[index], "showers", file_rows)
            _check_rows(read, group_counts, sources[index], file_rows)
            for place, row in zip(places.tolist(), read, strict=True):
                flat[offsets[place] : offsets[place + 1]] = row
    rows = split_rows(flat, offsets)
    # One pass each: a sum is finite only if every value is, and a real point
    # has a positive energy (zero would be padding inside a shower).
    if not np.isfinite(flat.sum(dtype=np.float64)) or (
        flat.size and flat[3::features].min() <= 0
    ):
        for index, file_rows, places in plan.groups:
            group_counts = lengths[places] // features
            _check_rows(rows[places], group_counts, sources[index], file_rows)
    return rows


def copy_rows(
    sources: Sequence[ShuffleSource],
    output: PathLike,
    plans: Sequence[ChunkPlan],
    *,
    overwrite: bool = False,
    overwrite_ids: bool = False,
    progress: bool = False,
) -> None:
    """Write the planned chunks of HDF5 inputs to a new HDF5 file, row by row.

    The variable-length rows are copied as stored (checked as the reader
    checks them), so nothing is padded.
    """
    from .io.files import opened
    from .io.hdf5.read import read_selection
    from .io.hdf5.write import create_showers_layout, new_file, write_vlen_rows

    total = sum(plan.length for plan in plans)
    shape = (total, sources[0].max_points, sources[0].num_features)
    with (
        ExitStack() as inputs,
        new_file(output, overwrite) as out,
        progress_bar(progress, total=total, unit="showers", desc="shuffling") as bar,
    ):
        files = [inputs.enter_context(opened(s.path)) for s in sources]
        create_showers_layout(out, shape)
        for plan in plans:
            rows = _plan_rows(files, sources, plan)
            fields = {
                name: np.empty((plan.length, *tail), dtype)
                for name, (dtype, tail) in PER_SHOWER.items()
            }
            for index, file_rows, places in plan.groups:
                for name, values in fields.items():
                    values[places] = read_selection(files[index], name, file_rows)
            if overwrite_ids:
                fields["shower_ids"] = np.arange(
                    plan.start, plan.start + plan.length, dtype=np.int32
                )
            stop = plan.start + plan.length
            write_vlen_rows(out["showers"], plan.start, rows)
            for name, values in fields.items():
                out[name][plan.start : stop] = values
            bar.update(plan.length)


def shuffle_files(
    inputs: Sequence[PathLike],
    output: PathLike,
    seed: int | None = None,
    *,
    overwrite: bool = False,
    overwrite_ids: bool = False,
    max_showers_per_file: int | None = None,
    chunks: int | None = None,
    progress: bool = False,
) -> int:
    """Write the showers of all inputs to ``output`` in a seeded random order.

    Out of core: output chunks are gathered from the inputs and written one
    after the other, so memory stays at a few chunks whatever the sizes of
    the files. The output is in the format its path names (``.zarr``: zarr).
    It appears only when complete. Rows are checked as they are read.

    Parameters
    ----------
    inputs : sequence of path
        Shower files with equal max points P and features F.
    output : path
        File to write; it must not be one of the inputs.
    seed : int, optional
        Seed of the order (see :func:`shuffle_permutation`).
    overwrite : bool
        Replace ``output`` if it exists; otherwise raise
        :class:`FileExistsError` before any work.
    overwrite_ids : bool
        Number the showers 0..N-1 in output order (ids of different inputs
        may clash otherwise).
    max_showers_per_file : int, optional
        Use only the first rows of each input (0.7's ``--test N``).
    chunks : int, optional
        Showers per chunk; default about ``showerdata.chunk-bytes`` of padded points
        (HDF5 to HDF5: 1,000, as 0.7's batches; nothing is padded there).
    progress : bool
        Show a progress bar.

    Returns
    -------
    int
        Number of showers written.

    Raises
    ------
    ValueError
        Inputs differ in P or F, or ``output`` is one of them.
    ShowerDataError
        A row is invalid (named by file, dataset and row); nothing is written.
    """
    for path in inputs:
        if os.path.exists(output) and os.path.samefile(path, output):
            raise ValueError(
                f"the output '{os.fspath(output)}' is also an input of the shuffle."
            )
    if is_zarr(output) or any(is_zarr(path) for path in inputs):
        showers = shuffled(
            inputs,
            seed,
            max_showers_per_file=max_showers_per_file,
            overwrite_ids=overwrite_ids,
            chunks=chunks,
        )
        save(showers, output, overwrite=overwrite, progress=progress)
        return len(showers)
    sources = shuffle_sources(inputs, max_showers_per_file)
    plans = plan_chunks(sources, seed, chunks or ROWS_PER_CHUNK)
    copy_rows(
        sources,
        output,
        plans,
        overwrite=overwrite,
        overwrite_ids=overwrite_ids,
        progress=progress,
    )
    return sum(plan.length for plan in plans)


if __name__ == "__main__":
    main(parse_args())
