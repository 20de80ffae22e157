"""Reading a window of rows and cutting it into batches.

A piece of a window is read the way ``source[piece].compute()`` reads it: for
showers read from files, the rows go straight from the files into numpy
arrays, one read per file, without a scheduler; anything else is computed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..buffers import empty, reusing
from ..io.files import kept_open
from ..showers import Showers
from .plan import RankPlan, Window
from .prefetch import prefetched

#: The fields a batch may hold: those of Showers, and the source position.
INDEX = "index"
FIELDS: tuple[str, ...] = (*Showers.FIELDS, INDEX)
_NEED_POINTS = ("points", "num_points")


def read_piece(
    source: Showers, piece: slice | np.ndarray, fields: Sequence[str]
) -> dict[str, np.ndarray]:
    """The given fields of ``source``'s rows ``piece``, in memory."""
    stored = [name for name in fields if name != INDEX]
    if any(name in _NEED_POINTS for name in stored):
        rows = _read_rows(source, piece)
        values = {name: getattr(rows, name) for name in stored}
    else:
        selected = source[piece]
        arrays = (getattr(selected, name) for name in stored)
        if selected.is_lazy:
            import dask

            arrays = dask.compute(*arrays)
        values = dict(zip(stored, arrays, strict=True))
    if INDEX in fields:
        if isinstance(piece, slice):
            values[INDEX] = np.arange(piece.start, piece.stop, dtype=np.int64)
        else:
            values[INDEX] = np.asarray(piece, np.int64)
    return values


def _read_rows(source: Showers, piece: slice | np.ndarray) -> Showers:
    """All fields of rows ``piece`` in memory (the per-shower ones cost little)."""
    stored = source._source
    if stored is not None:
        # Rows of files read straight into numpy, as compute() reads them, but
        # without building a graph first (the files stay open from one read to
        # the next: see batches_of).
        return stored.narrowed(piece).read()
    return source[piece].compute()


@dataclass
class ReadWindow:
    """A window's fields as read, piece by piece."""

    pieces: list[dict[str, np.ndarray]]
    starts: np.ndarray  # of each piece among the window's rows, and the end

    @classmethod
    def read(cls, source: Showers, window: Window, fields: Sequence[str]) -> ReadWindow:
        pieces = [read_piece(source, piece, fields) for piece in window.pieces]
        lengths = [len(next(iter(p.values()))) for p in pieces]
        return cls(pieces, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    def largest(self, positions: slice | np.ndarray) -> int:
        """Largest ``num_points`` of the rows at ``positions``."""
        counts = np.concatenate([p["num_points"] for p in self.pieces])[positions]
        return int(counts.max()) if len(counts) else 0

    def view(
        self, positions: slice | np.ndarray, width: int | None
    ) -> dict[str, np.ndarray] | None:
        """The rows at ``positions`` as views, if they are one run of one read."""
        if not isinstance(positions, slice):
            return None
        number = int(np.searchsorted(self.starts, positions.start, side="right")) - 1
        start, end = int(self.starts[number]), int(self.starts[number + 1])
        if positions.stop > end:
            return None
        rows = slice(positions.start - start, positions.stop - start)
        return {
            name: _cut(values, name, width)[rows]
            for name, values in self.pieces[number].items()
        }

    def copy_into(
        self,
        positions: slice | np.ndarray,
        width: int | None,
        out: dict[str, np.ndarray],
    ) -> None:
        """Copy the rows at sorted ``positions`` into ``out``'s arrays."""
        if isinstance(positions, slice):
            positions = np.arange(positions.start, positions.stop, dtype=np.int64)
        # Sorted positions: each piece's rows are one run of the output.
        bounds = np.searchsorted(positions, self.starts)
        for number, piece in enumerate(self.pieces):
            lo, hi = int(bounds[number]), int(bounds[number + 1])
            if hi > lo:
                rows = positions[lo:hi] - self.starts[number]
                for name, values in piece.items():
                    source = _cut(values, name, width)
                    np.take(source, rows, axis=0, out=out[name][lo:hi])


def _segment_length(positions: slice | np.ndarray) -> int:
    if isinstance(positions, slice):
        return positions.stop - positions.start
    return len(positions)


def _cut(values: np.ndarray, name: str, width: int | None) -> np.ndarray:
    return values[:, :width] if name == "points" and width is not None else values


def batches_of(
    source: Showers,
    plan: RankPlan,
    fields: Sequence[str],
    first: int,
    stop: int,
    trim_points: bool = False,
    read_ahead: bool = False,
) -> Iterator[dict[str, np.ndarray]]:
    """Batches ``first`` to ``stop - 1`` of ``plan``, reading only their windows.

    A window is dropped once a batch starts after it. ``read_ahead``: a thread
    reads the next window while batches are cut from the last, holding one
    window more than the batches span (two, when batches are smaller than
    windows); otherwise windows are read when a batch needs them.
    """
    fields = list(fields)
    trim = trim_points and "points" in fields
    read_fields = (
        [*fields, "num_points"] if trim and "num_points" not in fields else fields
    )
    if first >= stop:
        return
    starts = plan.window_offsets
    ends = plan.batch_offsets
    first_window = int(np.searchsorted(starts, ends[first], side="right")) - 1
    last_window = int(np.searchsorted(starts, ends[stop], side="left")) - 1
    spans = (
        np.searchsorted(starts, ends[first + 1 : stop + 1], side="left")
        - np.searchsorted(starts, ends[first:stop], side="right")
        + 1
    )
    slots = threading.Semaphore(int(spans.max()) + 1)

    def read_windows() -> Iterator[tuple[int, ReadWindow]]:
        with kept_open():  # not closed and reopened at every window
            for number in range(first_window, max(first_window, last_window) + 1):
                if read_ahead:
                    slots.acquire()
                yield number, ReadWindow.read(source, plan.windows[number], read_fields)

    held: dict[int, ReadWindow] = {}
    with reusing():  # the memory of windows and batches dropped goes to the next
        incoming = prefetched(read_windows(), 1 if read_ahead else 0)
        try:
            for number in range(first, stop):
                segments = plan.segments(number)
                for old in [w for w in held if w < segments[0][0]]:
                    del held[old]
                    slots.release()
                for w, _ in segments:
                    if w not in held:  # windows arrive in the order batches use them
                        got, held[w] = next(incoming)
                        assert got == w, f"read window {got}, expected {w}"
                yield _batch(held, segments, fields, trim)
        finally:
            held.clear()
            for _ in range(len(spans) + 2):
                slots.release()  # a reader waiting for a slot ends its read
            incoming.close()


def _batch(
    held: dict[int, ReadWindow],
    segments: list[tuple[int, slice | np.ndarray]],
    fields: list[str],
    trim: bool,
) -> dict[str, np.ndarray]:
    """One batch from its segments of the held windows."""
    width = None
    if trim:
        width = max(held[w].largest(positions) for w, positions in segments)
    if len(segments) == 1:
        views = held[segments[0][0]].view(segments[0][1], width)
        if views is not None:
            return {name: views[name] for name in fields}
    # One output per field, from memory of batches dropped (a pooled buffer of
    # the same size), filled window by window.
    size = sum(_segment_length(positions) for _, positions in segments)
    like = held[segments[0][0]].pieces[0]
    batch = {
        name: empty((size, *_cut(v, name, width).shape[1:]), v.dtype)
        for name, v in like.items()
    }
    at = 0
    for w, positions in segments:
        length = _segment_length(positions)
        part = {name: values[at : at + length] for name, values in batch.items()}
        held[w].copy_into(positions, width, part)
        at += length
    return {name: batch[name] for name in fields}
