"""Which rows a rank reads and yields in which batch: a pure function, no I/O.

An epoch's order is built in three steps, each seeded from ``(seed, epoch)``
only, so it does not depend on threads, workers or prefetching:

1. the source's rows are cut into *blocks* of contiguous rows, aligned to its
   chunks (so a block is one read of one chunk of one file); ``"blocks"``
   permutes the blocks;
2. the rows, block after block, are split into ``world_size`` contiguous shares
   of near-equal length, one per rank;
3. each rank groups its rows into *windows* of ``window`` blocks and, for
   ``"blocks"``, permutes the rows inside each window.

``"exact"`` instead permutes all rows; a rank's windows are then its batches.
The batch sizes give every rank the same number of batches (see
:func:`batch_sizes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

from ..errors import ShowerDataError

Shuffle = Literal["none", "blocks", "exact"]
SHUFFLES: tuple[str, ...] = ("none", "blocks", "exact")

# Independent random streams of one (seed, epoch).
_BLOCK_ORDER, _WINDOW_MIX, _EXACT_ORDER = 0, 1, 2


@dataclass(frozen=True)
class Window:
    """Rows read together, and the order in which a rank yields them.

    ``pieces`` are the reads: each a ``slice`` of contiguous source rows or a
    sorted array of rows. The window's rows are the pieces' rows one after the
    other; ``order`` (from :meth:`order`) says which of them comes when.
    """

    pieces: tuple[slice | np.ndarray, ...]
    #: Entropy of the permutation of the window's rows; None: not permuted.
    mixing: tuple[int, ...] | None = None

    @property
    def length(self) -> int:
        return sum(_piece_length(p) for p in self.pieces)

    def order(self) -> np.ndarray | None:
        """Positions among the read rows in yield order; None: as read."""
        if self.mixing is None:
            return None
        return np.random.default_rng(list(self.mixing)).permutation(self.length)


@dataclass(frozen=True)
class RankPlan:
    """What one rank reads and yields in one epoch."""

    windows: tuple[Window, ...]
    batch_sizes: np.ndarray  # rows of each batch, in order
    dropped: int  # rows of the epoch no rank yields (drop_last), on every rank alike

    @property
    def num_batches(self) -> int:
        return len(self.batch_sizes)

    @cached_property
    def batch_offsets(self) -> np.ndarray:
        """Start of each batch in the rank's row sequence, and its end."""
        return np.concatenate([[0], np.cumsum(self.batch_sizes)]).astype(np.int64)

    @cached_property
    def window_offsets(self) -> np.ndarray:
        """Start of each window in the rank's row sequence, and its end."""
        lengths = [w.length for w in self.windows]
        return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    def _order(self, number: int) -> np.ndarray | None:
        """Window ``number``'s order, kept for the two windows last asked for."""
        cache = self.__dict__.setdefault("_orders", {})
        if number not in cache:
            if len(cache) >= 2:
                del cache[min(cache)]
            cache[number] = self.windows[number].order()
        return cache[number]

    def segments(self, number: int) -> list[tuple[int, slice | np.ndarray]]:
        """Where batch ``number``'s rows are: (window, positions among its rows).

        A batch takes consecutive rows of the rank's sequence, from one window
        or from the end of one and the start of the next. Its positions in a
        window are sorted (a slice where contiguous): within a batch the order
        of the rows does not matter, and sorted positions are one copy each.
        """
        batches, windows = self.batch_offsets, self.window_offsets
        lo, hi = int(batches[number]), int(batches[number + 1])
        first = int(np.searchsorted(windows, lo, side="right")) - 1
        result = []
        for w in range(first, len(self.windows)):
            start, stop = int(windows[w]), int(windows[w + 1])
            if start >= hi:
                break
            a, b = max(lo, start) - start, min(hi, stop) - start
            order = self._order(w)
            positions = slice(a, b) if order is None else np.sort(order[a:b])
            result.append((w, positions))
        return result

    def batches(self) -> list[np.ndarray]:
        """The source rows of every batch (materialises the plan; for checks)."""
        rows = [
            np.concatenate([_piece_rows(p) for p in w.pieces]) for w in self.windows
        ]
        return [
            np.concatenate(
                [np.zeros(0, np.int64)]
                + [rows[w][positions] for w, positions in self.segments(number)]
            )
            for number in range(self.num_batches)
        ]


def _piece_length(piece: slice | np.ndarray) -> int:
    if isinstance(piece, slice):
        return piece.stop - piece.start
    return len(piece)


def _piece_rows(piece: slice | np.ndarray) -> np.ndarray:
    if isinstance(piece, slice):
        return np.arange(piece.start, piece.stop, dtype=np.int64)
    return np.asarray(piece, np.int64)


def blocks_of(chunks: Sequence[int], block_size: int | None = None) -> np.ndarray:
    """Starts of the blocks (and the end): chunks cut into at most ``block_size``."""
    starts, position = [], 0
    for length in chunks:
        starts.extend(range(position, position + length, block_size or max(1, length)))
        position += length
    return np.asarray([*starts, position], np.int64)


def share_bounds(num_rows: int, world_size: int) -> np.ndarray:
    """Start of each rank's contiguous share of the epoch's rows, and the end."""
    return np.asarray(
        [num_rows * r // world_size for r in range(world_size + 1)], np.int64
    )


def batch_sizes(
    num_rows: int, world_size: int, batch_size: int, drop_last: bool
) -> tuple[list[np.ndarray], int]:
    """Rows of every batch of every rank, and how many rows no rank yields.

    Shares differ by at most one row. With ``drop_last``, every rank yields
    ``(num_rows // world_size) // batch_size`` full batches. Otherwise every
    rank yields ``K = ceil(longest share / batch_size)`` batches: full ones, then
    a shorter share's last batches are smaller (never empty), so that every row
    is yielded exactly once and no rank waits for another at a collective.
    That is impossible when a share has fewer than ``K`` rows (fewer rows than
    ranks, or ``batch_size`` 1 with unequal shares): then a ShowerDataError.
    """
    bounds = share_bounds(num_rows, world_size)
    shares = np.diff(bounds)
    if drop_last:
        count = int(shares.min()) // batch_size
        sizes = [np.full(count, batch_size, np.int64) for _ in shares]
        return sizes, num_rows - world_size * count * batch_size
    count = -(-int(shares.max()) // batch_size)
    if int(shares.min()) < count:
        raise ShowerDataError(
            f"cannot give {world_size} ranks the same number of batches of at most "
            f"{batch_size} showers with each of the {num_rows:,} showers exactly "
            f"once: a rank's share of {int(shares.min())} showers cannot fill "
            f"{count} batches. Use drop_last=True, fewer ranks or a larger batch."
        )
    result = []
    for share in shares.tolist():
        # Full batches first; the last ones keep at least one row each.
        left, sizes = share, []
        for remaining in range(count, 0, -1):
            size = min(batch_size, left - (remaining - 1))
            sizes.append(size)
            left -= size
        result.append(np.asarray(sizes, np.int64))
    return result, 0


def plan_rank(
    chunks: Sequence[int],
    *,
    batch_size: int,
    shuffle: Shuffle = "none",
    seed: int = 0,
    epoch: int = 0,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool = False,
    block_size: int | None = None,
    window: int = 4,
) -> RankPlan:
    """The plan of ``rank`` for one epoch over a source chunked as ``chunks``.

    Parameters
    ----------
    chunks : sequence of int
        Lengths of the source's chunks along the shower axis (no block is cut
        across two chunks).
    batch_size, shuffle, seed, epoch, rank, world_size, drop_last, block_size, window
        As for :class:`showerdata.Loader`.

    Returns
    -------
    RankPlan
        The rank's windows and batch sizes.
    """
    if shuffle not in SHUFFLES:
        raise ValueError(f"shuffle must be one of {SHUFFLES}, not {shuffle!r}")
    num_rows = int(sum(chunks))
    sizes, dropped = batch_sizes(num_rows, world_size, batch_size, drop_last)
    start = int(share_bounds(num_rows, world_size)[rank])
    used = int(sizes[rank].sum())
    if shuffle == "exact":
        rng = np.random.default_rng([seed, epoch, _EXACT_ORDER])
        share = rng.permutation(num_rows)[start : start + used]
        offsets = np.concatenate([[0], np.cumsum(sizes[rank])])
        # Each batch is one window: its rows, sorted, are one read per file.
        windows = tuple(
            Window((np.sort(share[a:b]),))
            for a, b in zip(offsets[:-1], offsets[1:], strict=True)
        )
        return RankPlan(windows, sizes[rank], dropped)
    bounds = blocks_of(chunks, block_size)
    order = np.arange(len(bounds) - 1)
    if shuffle == "blocks":
        order = np.random.default_rng([seed, epoch, _BLOCK_ORDER]).permutation(order)
    pieces = _pieces_of_share(bounds, order, start, start + used)
    per_window = window if shuffle == "blocks" else 1
    windows = []
    for number, first in enumerate(range(0, len(pieces), per_window)):
        mixing = None
        if shuffle == "blocks":
            mixing = (seed, epoch, _WINDOW_MIX, world_size, rank, number)
        windows.append(Window(tuple(pieces[first : first + per_window]), mixing))
    return RankPlan(tuple(windows), sizes[rank], dropped)


def _pieces_of_share(
    bounds: np.ndarray, order: np.ndarray, start: int, stop: int
) -> list[slice]:
    """The parts of the blocks, taken in ``order``, at positions [start, stop)."""
    lengths = np.diff(bounds)[order]
    ends = np.cumsum(lengths)
    pieces = []
    first = int(np.searchsorted(ends, start, side="right"))
    for number in range(first, len(order)):
        block_start = int(ends[number] - lengths[number])
        if block_start >= stop:
            break
        lo = max(start, block_start) - block_start
        hi = min(stop, int(ends[number])) - block_start
        if hi > lo:
            row = int(bounds[order[number]])
            pieces.append(slice(row + lo, row + hi))
    return pieces


__all__ = [
    "SHUFFLES",
    "RankPlan",
    "Shuffle",
    "Window",
    "batch_sizes",
    "blocks_of",
    "plan_rank",
    "share_bounds",
]
