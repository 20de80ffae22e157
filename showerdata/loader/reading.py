"""Reading a window of rows and cutting it into batches.

A piece of a window is read through the public model: ``source[piece]``, then
``compute()`` -- which, for showers read from files, reads the rows straight
from the files into numpy arrays, one read per file, without a scheduler.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..showers import Showers
from .plan import RankPlan, Window

#: The fields a batch may hold: those of Showers, and the source position.
INDEX = "index"
FIELDS: tuple[str, ...] = (*Showers.FIELDS, INDEX)
_NEED_POINTS = ("points", "num_points")


def read_piece(
    source: Showers, piece: slice | np.ndarray, fields: Sequence[str]
) -> dict[str, np.ndarray]:
    """The given fields of ``source``'s rows ``piece``, in memory."""
    rows = source[piece]
    stored = [name for name in fields if name != INDEX]
    if any(name in _NEED_POINTS for name in stored):
        # One eager read of all fields: the per-shower ones cost little next
        # to the points, and this is the path that reads files directly.
        in_memory = rows.compute()
        values = {name: getattr(in_memory, name) for name in stored}
    elif rows.is_lazy:
        import dask

        arrays = dask.compute(*(getattr(rows, name) for name in stored))
        values = dict(zip(stored, arrays, strict=True))
    else:
        values = {name: getattr(rows, name) for name in stored}
    if INDEX in fields:
        if isinstance(piece, slice):
            values[INDEX] = np.arange(piece.start, piece.stop, dtype=np.int64)
        else:
            values[INDEX] = np.asarray(piece, np.int64)
    return values


@dataclass
class ReadWindow:
    """A window's fields, piece by piece, and the order its rows are yielded in."""

    pieces: list[dict[str, np.ndarray]]
    starts: np.ndarray  # of each piece among the window's rows, and the end
    order: np.ndarray | None

    @classmethod
    def read(cls, source: Showers, window: Window, fields: Sequence[str]) -> ReadWindow:
        pieces = [read_piece(source, piece, fields) for piece in window.pieces]
        lengths = [len(next(iter(p.values()))) for p in pieces]
        starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return cls(pieces, starts, window.order())

    def take(self, lo: int, hi: int, width: int | None) -> dict[str, np.ndarray]:
        """Rows ``lo:hi`` of the window in yield order; points cut to ``width``."""
        if self.order is None and len(self.pieces) == 1:
            # Contiguous rows of one read: views, no copy.
            return {
                name: _cut(values[lo:hi], name, width)
                for name, values in self.pieces[0].items()
            }
        if self.order is None:
            positions = np.arange(lo, hi, dtype=np.int64)
        else:
            positions = self.order[lo:hi]
        piece_of = np.searchsorted(self.starts, positions, side="right") - 1
        result = {}
        for name, first in self.pieces[0].items():
            shape = list(first.shape)
            shape[0] = len(positions)
            if name == "points" and width is not None:
                shape[1] = width
            out = np.empty(shape, first.dtype)
            for number, piece in enumerate(self.pieces):
                chosen = piece_of == number
                rows = positions[chosen] - self.starts[number]
                out[chosen] = _cut(piece[name], name, width)[rows]
            result[name] = out
        return result


def _cut(values: np.ndarray, name: str, width: int | None) -> np.ndarray:
    return values[:, :width] if name == "points" and width is not None else values


def batches_of(
    source: Showers,
    plan: RankPlan,
    fields: Sequence[str],
    first: int,
    stop: int,
    trim_points: bool = False,
) -> Iterator[dict[str, np.ndarray]]:
    """Batches ``first`` to ``stop - 1`` of ``plan``, reading only their windows.

    At most the windows a batch spans are held (two, when batches are smaller
    than windows): a window is dropped once its last row is yielded.
    """
    fields = list(fields)
    read_fields = fields
    if trim_points and "points" in fields and "num_points" not in fields:
        read_fields = [*fields, "num_points"]
    batch_offsets = plan.batch_offsets()
    window_offsets = plan.window_offsets()
    held: dict[int, ReadWindow] = {}
    for number in range(first, stop):
        lo, hi = int(batch_offsets[number]), int(batch_offsets[number + 1])
        first_window = int(np.searchsorted(window_offsets, lo, side="right")) - 1
        last_window = int(np.searchsorted(window_offsets, hi, side="left")) - 1
        for old in [w for w in held if w < first_window]:
            del held[old]
        parts = []
        width = None
        for w in range(first_window, max(first_window, last_window) + 1):
            if w not in held:
                held[w] = ReadWindow.read(source, plan.windows[w], read_fields)
            start = int(window_offsets[w])
            a, b = max(lo, start) - start, min(hi, int(window_offsets[w + 1])) - start
            parts.append((held[w], a, b))
        if trim_points and "points" in fields:
            width = max(_largest(window, a, b) for window, a, b in parts)
        taken = [window.take(a, b, width) for window, a, b in parts]
        batch = (
            taken[0]
            if len(taken) == 1
            else {n: np.concatenate([t[n] for t in taken]) for n in taken[0]}
        )
        yield {name: batch[name] for name in fields}


def _largest(window: ReadWindow, lo: int, hi: int) -> int:
    """Largest num_points among the window's rows ``lo:hi`` in yield order."""
    counts = np.concatenate([p["num_points"] for p in window.pieces])
    chosen = counts[lo:hi] if window.order is None else counts[window.order[lo:hi]]
    return int(chosen.max()) if len(chosen) else 0
