"""Saving to a pattern: one file (or zarr store) per group of chunks, in parallel.

``save(showers, "out/part-{:05d}.h5")`` cuts the showers into partitions of
whole chunks and makes one dask task per partition. That task computes its
chunks one after the other (on the synchronous scheduler, inside whatever
worker runs it) and writes them to its own file, so HDF5's single writer per
file is no limit: as many files are written at once as dask runs tasks (the
local threads, or the workers of a ``distributed`` cluster). Each file is
written under a temporary name and renamed when complete; the index beside
them (``out/part.index.json``) is written last, the same way.

A part file records which rows of which data it holds (the root attribute
``showerdata_partition``: rows, total, and a token of the data's graph), so
``resume=True`` keeps the parts already complete and writes the rest.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import numpy as np
from dask.base import tokenize
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph
from dask.local import get_sync
from dask.optimization import cull
from dask.utils import parse_bytes

from ..bundle import is_lazy_array
from ..config import showers_per_chunk
from ..deferred import dask_array as da
from ..errors import ShowerDataError
from ..replacing import remove
from ..showers import Showers
from ..streaming import run_writes
from .backends import backend_for
from .files import forget
from .graph_inputs import read_paths
from .index import write_index
from .patterns import check_pattern, existing_parts, index_path
from .production import read_entry

#: dask setting: padded bytes of showers per file when no size is given.
FILE_BYTES_KEY = "showerdata.file-bytes"
DEFAULT_FILE_BYTES = 2**30
#: Root attribute of a part: which rows of which data it holds.
PARTITION_ATTRIBUTE = "showerdata_partition"
#: How the names of the write tasks' layer begin.
WRITE_LAYER = "write-partition-"


def file_showers(row_bytes: int, showers_per_file: int | None) -> int:
    """Showers per file: ``showers_per_file``, else ``showerdata.file-bytes`` worth."""
    if showers_per_file is not None:
        if showers_per_file < 1:
            raise ValueError(
                f"showers_per_file must be at least 1, got {showers_per_file}."
            )
        return int(showers_per_file)
    value = dask.config.get(FILE_BYTES_KEY, DEFAULT_FILE_BYTES)
    budget = parse_bytes(value) if isinstance(value, str) else int(value)
    return max(1, budget // max(1, row_bytes))


def plan_partitions(lengths: Sequence[int], limit: int) -> list[range]:
    """Consecutive chunks grouped into files of at most ``limit`` showers.

    A chunk is never split: a file takes chunks while they fit, and a chunk
    longer than ``limit`` makes a file of its own.

    Examples
    --------
    >>> plan_partitions([100, 100, 100, 50], 250)
    [range(0, 2), range(2, 4)]
    """
    groups: list[range] = []
    first, rows = 0, 0
    for number, length in enumerate(lengths):
        if number > first and rows + length > limit:
            groups.append(range(first, number))
            first, rows = number, 0
        rows += length
    groups.append(range(first, len(lengths)))
    return groups


@dataclass(frozen=True)
class Part:
    """One file of a partitioned save."""

    number: int
    path: str
    chunks: range
    start: int  # first row of the data it holds
    stop: int


class PartJob:
    """What one write task needs: its file, its fields, and how to describe them.

    A plain class (not a tuple, list, dict or dataclass), so dask hands it to
    the task as it is instead of computing the lazy fields it holds first.
    """

    def __init__(
        self,
        path: str,
        fields: dict[str, Any],
        shape: tuple[int, int, int] | None,
        chunk_length: int,
        attributes: dict[str, Any],
    ) -> None:
        self.path = path
        self.fields = fields
        self.shape = shape
        self.chunk_length = chunk_length
        self.attributes = attributes


def write_part(job: PartJob) -> int:
    """Task: compute a partition's chunks here, one by one, and write its file."""
    backend_for(job.path).save_fields(
        job.fields,
        job.path,
        job.shape,
        True,  # overwrite: what was at the path was checked before any work
        False,
        False,
        job.chunk_length,
        # The function, not "sync": by name, dask warns where a Client is active.
        scheduler=get_sync,
        attributes=job.attributes,
    )
    return len(next(iter(job.fields.values())))


def _part_fields(fields: Mapping[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Rows ``start:stop`` of each field; a lazy one with only the tasks it needs."""
    parts = {}
    for name, values in fields.items():
        piece = values[start:stop]
        if is_lazy_array(piece):
            keys = _flat_keys(piece.__dask_keys__())
            graph, _ = cull(piece.__dask_graph__(), keys)
            meta = np.empty((0,) * piece.ndim, dtype=piece.dtype)
            piece = da.Array(graph, piece.name, piece.chunks, meta=meta)
        parts[name] = piece
    return parts


def _flat_keys(keys: Any) -> list[Any]:
    if isinstance(keys, list):
        return [key for item in keys for key in _flat_keys(item)]
    return [keys]


def _record(part: Part, total: int, token: str) -> str:
    return json.dumps(
        {"rows": [part.start, part.stop], "of": total, "data": token},
        separators=(",", ":"),
    )


def _is_complete(
    path: str, shape: tuple[int, int, int] | None, rows: int, record: str
) -> bool:
    """Whether ``path`` holds the part a resumed save would write there.

    It does when it is a shower file of the expected shape whose
    ``showerdata_partition`` attribute names the same rows of the same data.
    Files appear only when complete (renamed into place), so this header
    read is all the checking needed.
    """
    try:
        entry, attrs = read_entry(path)
    except (OSError, ShowerDataError):
        return False
    finally:
        forget(path)
    described = (entry.num_rows, entry.max_points, entry.num_features)
    expected = (rows, *shape[1:]) if shape is not None else (rows, None, None)
    return described == expected and str(attrs.get(PARTITION_ATTRIBUTE)) == record


def _remove_leftovers(path: str) -> None:
    """Remove the temporary files a killed save left beside ``path``."""
    directory, name = os.path.split(os.path.abspath(path))
    for leftover in glob.glob(os.path.join(directory, f".{glob.escape(name)}.*")):
        if leftover.endswith(".partial"):
            remove(leftover, ignore_errors=True)


def save_partitioned(
    fields: Mapping[str, Any],
    shape: tuple[int, int, int] | None,
    pattern: str | os.PathLike[str],
    overwrite: bool = False,
    progress: bool = False,
    resume: bool = False,
    showers_per_file: int | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> str:
    """Write aligned fields as one file per partition of whole chunks, and an index.

    Parameters
    ----------
    fields : mapping of str to array
        The fields of showers (``shape`` given) or incident particles.
    shape : tuple of int or None
        (N, P, F) of showers; None for incident particles.
    pattern : str or os.PathLike
        ``str.format`` pattern with one integer field: ``out/part-{:05d}.h5``
        (HDF5 files) or ``out/part-{:05d}.zarr`` (zarr stores).
    overwrite, progress, resume, showers_per_file
        As in :func:`showerdata.save`.
    attributes : mapping, optional
        Root attributes of every file, set before it appears.

    Returns
    -------
    str
        Path of the index file written beside the parts.
    """
    pattern = os.fspath(pattern)
    check_pattern(pattern)
    first = next(iter(fields.values()))
    total = int(first.shape[0])
    row_bytes = sum(
        int(np.prod(v.shape[1:], dtype=np.int64)) * v.dtype.itemsize
        for v in fields.values()
    )
    if is_lazy_array(first):
        lengths = [int(n) for n in first.chunks[0]]
        token = tokenize(*[v.name for v in fields.values()])
    else:
        per_chunk = showers_per_chunk(*shape[1:]) if shape else 2**20
        lengths = [min(per_chunk, total - s) for s in range(0, total, per_chunk)]
        token = tokenize(*fields.values())
    lengths = lengths or [0]
    edges = np.concatenate([[0], np.cumsum(lengths)]).astype(int).tolist()
    parts = [
        Part(k, pattern.format(k), chunks, edges[chunks[0]], edges[chunks[-1] + 1])
        for k, chunks in enumerate(
            plan_partitions(lengths, file_showers(row_bytes, showers_per_file))
        )
    ]
    index = index_path(pattern)
    existing = existing_parts(pattern)
    _refuse_inputs(fields, [*(p.path for p in parts), index, *existing.values()])

    done = {
        part.number
        for part in parts
        if resume
        and part.number in existing
        and _is_complete(
            part.path,
            shape,
            part.stop - part.start,
            _record(part, total, token),
        )
    }
    in_the_way = [path for k, path in sorted(existing.items()) if k not in done]
    if os.path.exists(index) and not resume:
        in_the_way.append(index)
    if in_the_way and not overwrite:
        hint = "" if resume else " or resume=True to keep the complete ones"
        raise FileExistsError(
            f"File {in_the_way[0]} already exists. Use overwrite=True to "
            f"overwrite{hint}."
        )
    for part in parts:
        if part.number not in done:
            _remove_leftovers(part.path)
            # A pattern names a directory of parts: made here, like the parts.
            os.makedirs(os.path.dirname(os.path.abspath(part.path)), exist_ok=True)

    layer = WRITE_LAYER + tokenize(pattern, token, [p.chunks for p in parts])
    tasks: dict[Any, Any] = {}
    for part in parts:
        if part.number in done:
            continue
        record = {PARTITION_ATTRIBUTE: _record(part, total, token)}
        job = PartJob(
            part.path,
            _part_fields(fields, part.start, part.stop),
            None if shape is None else (part.stop - part.start, *shape[1:]),
            max(lengths),
            {**dict(attributes or {}), **record},
        )
        tasks[(layer, part.number)] = (write_part, job)
    graph = HighLevelGraph.from_collections(layer, tasks)
    writes = [Delayed(key, graph, layer=layer) for key in tasks]
    skipped = sum(p.stop - p.start for p in parts if p.number in done)
    run_writes(writes, total, progress, WRITE_LAYER, skipped)
    for part in parts:
        forget(part.path)  # a worker wrote it: handles here may be of the old one

    write_index([part.path for part in parts], index)
    for number, path in sorted(existing.items()):
        if number >= len(parts):  # left by an earlier save into more files
            forget(path)
            remove(path)
    return index


def _refuse_inputs(fields: Mapping[str, Any], outputs: Sequence[str]) -> None:
    """Raise before any work if an output would replace a file the data reads."""
    inputs = read_paths(v for v in fields.values() if is_lazy_array(v))
    for path in outputs:
        if os.path.abspath(path) in inputs:
            raise ShowerDataError(
                "is an input of this save: writing the output pattern would "
                "replace it while it is read; write to another pattern",
                path=path,
            )


def save_pattern(
    data: Any,
    pattern: str | os.PathLike[str],
    overwrite: bool,
    progress: bool,
    resume: bool,
    showers_per_file: int | None,
    attributes: Mapping[str, Any] | None = None,
) -> str:
    """:func:`save_partitioned` of checked showers or incident particles."""
    shape = (
        tuple(int(d) for d in data.points.shape) if isinstance(data, Showers) else None
    )
    return save_partitioned(
        data._fields(),
        shape,  # type: ignore[arg-type]
        pattern,
        overwrite,
        progress,
        resume,
        showers_per_file,
        attributes,
    )


__all__ = [
    "DEFAULT_FILE_BYTES",
    "FILE_BYTES_KEY",
    "PARTITION_ATTRIBUTE",
    "plan_partitions",
    "save_partitioned",
    "save_pattern",
]
