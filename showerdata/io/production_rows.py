"""Lazy rows of a production: graphs whose tasks each read one file's rows.

A selection of the production's rows is cut into *parts* -- rows of one file
-- and the parts into chunks: a chunk of a forward slice or a sorted selection
holds one part, so no chunk straddles two files and ``showers[i]`` reads one
file. (Only an unordered selection, e.g. a permutation, gathers a chunk from
several files.) Each task checks the fingerprint of the file it reads first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from dask.base import tokenize

from ..buffers import zeros
from ..bundle import Source
from ..config import showers_per_chunk
from ..deferred import dask_array as da
from ..errors import ShowerDataError
from ..graphs import lazy_from_tasks
from ..indexing import Selection, compose, selection_length
from ..showers import IncidentParticles, Showers
from .backends import backend_for
from .files import opened
from .layout import PARTICLE_FIELDS, PER_SHOWER
from .lazy import file_row, read_points_from, read_selection, split_selection
from .production import FileEntry, Production

#: An unordered selection whose rows switch files more often than once per
#: this many rows is gathered chunk by chunk, not cut at every switch.
ROWS_PER_SWITCH = 64


@dataclass(frozen=True)
class Part:
    """Rows ``rows`` of one file, placed at ``where`` in their chunk."""

    entry: FileEntry
    rows: Selection  # of the file
    where: slice | np.ndarray  # positions in the chunk

    @property
    def length(self) -> int:
        return selection_length(self.rows, self.entry.num_rows)


@dataclass(frozen=True)
class ChunkPlan:
    """What one task reads: its parts and the chunk's length.

    One object per task argument: dask does not walk into it looking for keys.
    """

    parts: tuple[Part, ...]
    length: int


# -- reading ------------------------------------------------------------------------


def check_unchanged(entry: FileEntry) -> None:
    """Raise unless the file is still the one its entry describes.

    Raises
    ------
    FileNotFoundError
        The file is gone (naming the index that lists it, if any).
    ShowerDataError
        The file was replaced or rewritten since the index was written or the
        production was opened.
    """
    if entry.fingerprint is None:
        return
    try:
        now = backend_for(entry.location).fingerprint(entry.location)
    except FileNotFoundError:
        listed = f", listed in index '{entry.listed_in}'," if entry.listed_in else ""
        raise FileNotFoundError(
            f"No such shower file: '{entry.name}'{listed} is missing."
        ) from None
    if tuple(now) != tuple(entry.fingerprint):
        since = (
            f"the index '{entry.listed_in}' was written; rebuild it with "
            "`showerdata index`"
            if entry.listed_in
            else "it was opened; load it again"
        )
        raise ShowerDataError(
            f"changed (size or modification time) since {since}", path=entry.name
        )


@contextmanager
def reader(entry: FileEntry) -> Iterator[Any]:
    """The process's read handle of a file checked to be unchanged, for one read."""
    check_unchanged(entry)
    with opened(entry.location) as file:
        yield file


def _read_part_field(file: Any, part: Part, name: str, dtype: str) -> np.ndarray:
    return np.asarray(read_selection(part.entry.location, file, name, part.rows), dtype)


def _read_part_points(
    file: Any, part: Part, width: int, out: np.ndarray, check: bool = True
) -> None:
    header = part.entry.header()
    if isinstance(part.where, slice):
        read_points_from(file, header, part.rows, width, check, out=out[part.where])
    else:
        out[part.where] = read_points_from(file, header, part.rows, width, check)


def read_field_task(plan: ChunkPlan, name: str, dtype: str) -> np.ndarray:
    """Task: one per-shower field of a chunk."""
    if len(plan.parts) == 1:
        part = plan.parts[0]
        with reader(part.entry) as file:
            return _read_part_field(file, part, name, dtype)
    _, tail = PER_SHOWER[name]
    out = np.zeros((plan.length, *tail), dtype)
    for part in plan.parts:
        with reader(part.entry) as file:
            out[part.where] = _read_part_field(file, part, name, dtype)
    return out


def read_num_points_task(plan: ChunkPlan, width: int) -> np.ndarray:
    """Task: num_points of a chunk, clipped to the point axis."""
    counts = read_field_task(plan, "num_points", "int32")
    return np.minimum(counts, width, dtype=np.int32)


def read_points_task(plan: ChunkPlan, width: int, features: int) -> np.ndarray:
    """Task: the padded points of a chunk, checked against num_points."""
    out = zeros((plan.length, width, features))
    for part in plan.parts:
        with reader(part.entry) as file:
            _read_part_points(file, part, width, out)
    return out


# -- planning -----------------------------------------------------------------------


def file_parts(production: Production, selection: Selection) -> list[Part]:
    """The selection as consecutive parts of one file each, in selection order.

    ``where`` is left as the part's position in the whole selection.
    """
    offsets, entries = production.offsets, production.entries
    if isinstance(selection, slice):
        return _slice_parts(offsets, entries, selection)
    rows = np.asarray(selection, dtype=np.int64)
    if len(rows) == 0:
        return []
    files = np.searchsorted(offsets, rows, side="right") - 1
    switches = np.flatnonzero(np.diff(files)) + 1
    bounds = [0, *switches.tolist(), len(rows)]
    parts = []
    for first, last in zip(bounds[:-1], bounds[1:], strict=True):
        number = int(files[first])
        local = rows[first:last] - offsets[number]
        parts.append(Part(entries[number], local, slice(first, last)))
    return parts


def _slice_parts(
    offsets: np.ndarray, entries: tuple[FileEntry, ...], selection: slice
) -> list[Part]:
    start, stop, step = selection.start, selection.stop, selection.step or 1
    if stop <= start:
        return []
    parts = []
    number = int(np.searchsorted(offsets, start, side="right")) - 1
    position = 0
    while number < len(entries) and offsets[number] < stop:
        low, high = int(offsets[number]), int(offsets[number + 1])
        first = start + -(-(max(start, low) - start) // step) * step
        end = min(stop, high)
        if first < end:
            count = (end - 1 - first) // step + 1
            local = first - low
            rows = slice(local, local + (count - 1) * step + 1, step)
            parts.append(Part(entries[number], rows, slice(position, position + count)))
            position += count
        number += 1
    return parts


def plan_chunks(
    production: Production,
    selection: Selection,
    chunk_length: int | None,
    width: int,
    features: int,
) -> list[ChunkPlan]:
    """Cut a selection into chunks that each read one file (see module notes)."""
    parts = file_parts(production, selection)
    if not parts:
        entry = production.entries[0]
        return [ChunkPlan((Part(entry, slice(0, 0, 1), slice(0, 0)),), 0)]
    total = selection_length(selection, production.num_rows)
    if len(parts) > len(production.entries) + total // ROWS_PER_SWITCH:
        return _gathered_chunks(parts, total, chunk_length or 1024)
    default = showers_per_chunk(width, features) if features else 2**20
    plans = []
    for part in parts:
        entry = part.entry
        chunk = chunk_length or entry.chunk_length or default
        count = part.length
        if count <= chunk:  # most files of a production: one chunk, as it is
            plans.append(ChunkPlan((Part(entry, part.rows, slice(0, count)),), count))
            continue
        for rows in split_selection(part.rows, entry.num_rows, chunk):
            length = selection_length(rows, entry.num_rows)
            plans.append(ChunkPlan((Part(entry, rows, slice(0, length)),), length))
    return plans


def _gathered_chunks(parts: list[Part], total: int, chunk: int) -> list[ChunkPlan]:
    """Chunks of ``chunk`` consecutive selected rows, each read from several files."""
    numbers = np.empty(total, dtype=np.int64)  # which part each position is in
    local = np.empty(total, dtype=np.int64)
    entries = []
    for number, part in enumerate(parts):
        assert isinstance(part.where, slice)
        numbers[part.where] = number
        local[part.where] = part.rows  # parts of an array selection hold arrays
        entries.append(part.entry)
    keys = np.array([id(e) for e in entries])[numbers]
    plans = []
    for first in range(0, total, chunk):
        last = min(first + chunk, total)
        chunk_parts = []
        for key in np.unique(keys[first:last]):
            where = np.flatnonzero(keys[first:last] == key)
            entry = entries[int(numbers[first + where[0]])]
            chunk_parts.append(Part(entry, local[first:last][where], where))
        plans.append(ChunkPlan(tuple(chunk_parts), last - first))
    return plans


# -- the stored selection -----------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ProductionRows:
    """A lazily read selection of a production's rows (a ``StoredSelection``)."""

    production: Production
    kind: type  # Showers or IncidentParticles
    selection: Selection  # of the production's rows
    chunk_length: int | None  # asked for; None: each file's own
    max_points: int = 0  # width of the padded point axis, for showers
    num_features: int = 0

    @property
    def num_rows(self) -> int:
        return self.production.num_rows

    def narrowed(self, selection: Selection) -> ProductionRows:
        rows = compose(self.selection, selection, self.num_rows)
        return replace(self, selection=rows)

    def select(self, selection: Selection) -> Any:
        return self.narrowed(selection).to_bundle()

    def file_count(self) -> int:
        return len(self.sources())

    def sources(self) -> list[Source]:
        entries = self.production.entries
        if isinstance(self.selection, slice) and self.selection == slice(
            0, self.num_rows, 1
        ):
            return [Source(entry.name, entry.num_rows) for entry in entries]
        counts: dict[int, int] = {}  # by entry: a list may name a file twice
        for part in file_parts(self.production, self.selection):
            counts[id(part.entry)] = counts.get(id(part.entry), 0) + part.length
        return [
            Source(entry.name, counts[id(entry)])
            for entry in entries
            if counts.get(id(entry))
        ]

    def locate(self, position: int) -> tuple[str, int]:
        row = file_row(self.selection, position)
        offsets = self.production.offsets
        number = int(np.searchsorted(offsets, row, side="right")) - 1
        return self.production.entries[number].name, row - int(offsets[number])

    def _field_names(self) -> tuple[str, ...]:
        if self.kind is IncidentParticles:
            return PARTICLE_FIELDS
        return (*PARTICLE_FIELDS, "shower_ids")

    def read(self) -> Any:
        """The selected rows in memory, read file by file straight into the result."""
        parts = file_parts(self.production, self.selection)
        total = selection_length(self.selection, self.num_rows)
        fields: dict[str, np.ndarray] = {
            name: np.zeros((total, *PER_SHOWER[name][1]), PER_SHOWER[name][0])
            for name in self._field_names()
        }
        showers = self.kind is Showers
        if showers:
            width, features = self.max_points, self.num_features
            fields["num_points"] = np.zeros(total, np.int32)
            fields["points"] = zeros((total, width, features))
        for part in parts:
            with reader(part.entry) as file:
                for name, out in fields.items():
                    if name != "points":
                        dtype = PER_SHOWER[name][0]
                        out[part.where] = _read_part_field(file, part, name, dtype)
                if showers:
                    _read_part_points(file, part, width, fields["points"])
        if showers:
            np.minimum(fields["num_points"], width, out=fields["num_points"])
            return Showers._from_fields(fields)
        return IncidentParticles._from_fields(fields)

    def to_bundle(self) -> Any:
        width, features = self.max_points, self.num_features
        plans = plan_chunks(
            self.production, self.selection, self.chunk_length, width, features
        )
        lengths = [plan.length for plan in plans]
        token = tokenize(
            self.production.token, self.selection, self.chunk_length, width
        )

        def field(name: str) -> da.Array:
            dtype, tail = PER_SHOWER[name]
            args = [(plan, name, dtype) for plan in plans]
            return lazy_from_tasks(
                f"{name}-{token}", read_field_task, args, lengths, tail, dtype
            )

        fields = {name: field(name) for name in self._field_names()}
        if self.kind is IncidentParticles:
            return IncidentParticles._from_fields(fields, source=self)
        fields["points"] = lazy_from_tasks(
            f"points-{token}",
            read_points_task,
            [(plan, width, features) for plan in plans],
            lengths,
            (width, features),
            "float32",
        )
        fields["num_points"] = lazy_from_tasks(
            f"num_points-{token}",
            read_num_points_task,
            [(plan, width) for plan in plans],
            lengths,
            (),
            "int32",
        )
        return Showers._from_fields(fields, source=self)


__all__ = ["ChunkPlan", "Part", "ProductionRows", "check_unchanged", "plan_chunks"]
