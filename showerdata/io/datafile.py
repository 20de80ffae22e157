"""``ShowerDataFile``: an open shower file, indexed like an h5py dataset."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from types import TracebackType
from typing import Any

import numpy as np

from ..indexing import IndexLike, Selection, normalize_index, selection_length
from ..showers import Showers
from ..streaming import iter_blocks
from .backends import backend_for
from .inputs import is_many
from .layout import PointsHeader
from .lazy import check_per_shower_datasets, read_points_header, read_shower_rows
from .production import open_production
from .production_rows import ProductionRows


def _location(path: Any) -> Any:
    return os.fspath(path) if isinstance(path, os.PathLike) else path


class ShowerDataFile:
    """Context manager over a shower file (HDF5) or store (zarr).

    Indexing returns in-memory :class:`Showers` (as an h5py dataset returns
    numpy); assigning :class:`Showers` (in memory or lazy) writes them.

    Parameters
    ----------
    path : str or os.PathLike
        Shower file; in mode ``'r'`` also a production of many files (a glob,
        list, directory or index file, as :func:`showerdata.load` takes).
    mode : {'r', 'w', 'a'}
        Read; create (replacing an existing file, like showerdata 0.7); or
        read and write an existing file.
    shape : tuple of int, optional
        (N, P, F) of a file created with ``mode='w'``.

    Notes
    -----
    With ``mode='w'`` the file is built under a temporary name and appears at
    ``path`` when closed; if the ``with`` block raises, it is discarded and a
    previous file at ``path`` stays as it was.

    Examples
    --------
    >>> with ShowerDataFile("showers.h5") as file:  # doctest: +SKIP
    ...     first = file[0]
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        mode: str = "r",
        shape: tuple[int, int, int] | None = None,
    ) -> None:
        self.path = path
        self._closed = True
        if mode not in ("r", "w", "a"):
            raise ValueError(f"Invalid mode '{mode}'. Must be 'r', 'w', or 'a'.")
        self._writable = mode != "r"
        self._production: ProductionRows | None = None
        if mode == "r" and is_many(path):
            self._open_production(path)
            return
        self._format = backend_for(path)
        # Holds the writer's context: leaving it normally commits the file.
        self._context = ExitStack()
        if mode == "w":
            if shape is None:
                raise ValueError(
                    "Shape must be specified when opening a file for writing."
                )
            self.file = self._context.enter_context(
                self._format.new_file(path, overwrite=True)
            )
            self._format.create_showers_layout(self.file, tuple(int(d) for d in shape))
        elif mode == "a":
            self.file = self._context.enter_context(self._format.existing_file(path))
        else:
            self.file = self._format.open_reader(_location(path))
        self._closed = False
        self.attrs = self.file.attrs
        self._header = read_points_header(_location(path), file=self.file)
        if mode != "w":
            # As load() does: refuse strings, references or opaque bytes where
            # numbers belong before reading them, with an error naming the file.
            check_per_shower_datasets(self._header, self.file)

    def _open_production(self, path: Any) -> None:
        production = open_production(path)
        n, p, f = production.showers_shape()
        self._production = ProductionRows(
            production, Showers, slice(0, n, 1), None, p, f
        )
        self.file = None
        self.attrs = production.attrs
        self._header = PointsHeader(production.name, "showers", "num_points", n, p, f)
        self._closed = False

    # -- context --------------------------------------------------------------------

    def __enter__(self) -> ShowerDataFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.close(discard=exc_type is not None)

    def close(self, discard: bool = False) -> None:
        """Close the file; a file opened with ``mode='w'`` now appears at its path.

        Parameters
        ----------
        discard : bool
            For ``mode='w'``: drop the new file instead (the ``with`` block
            does this when it raises).
        """
        if getattr(self, "_closed", True):
            return
        self._closed = True
        if self._production is not None:
            return
        if discard:
            # The writer's context removes what it built when it sees an error.
            abandoned = RuntimeError("ShowerDataFile discarded")
            self._context.__exit__(RuntimeError, abandoned, None)
        else:
            self._context.close()
        if hasattr(self.file, "close"):
            self.file.close()

    def __del__(self) -> None:
        # An unclosed 'w' file is committed, as h5py would have flushed it in 0.7.
        try:
            self.close()
        except Exception:
            pass

    # -- shape ----------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape (N, P, F) of the showers in the file."""
        h = self._header
        return (h.num_showers, h.max_points, h.num_features)

    @property
    def num_showers(self) -> int:
        """Number of showers in the file."""
        return self._header.num_showers

    def __len__(self) -> int:
        return self.num_showers

    def _selection(self, index: IndexLike) -> Selection:
        if self._closed:
            raise ValueError(f"File is not open. ('{_location(self.path)}' is closed)")
        return normalize_index(index, self.num_showers)

    # -- reading and writing --------------------------------------------------

    def __getitem__(self, index: IndexLike) -> Showers:
        selection = self._selection(index)
        if self._production is not None:
            return self._production.narrowed(selection).read()
        return read_shower_rows(self.file, self._header, selection)

    def __setitem__(self, index: IndexLike, data: Showers) -> None:
        selection = self._selection(index)
        if not self._writable:
            raise ValueError(
                "File is not open for writing (mode: r). (file "
                f"'{_location(self.path)}'; open it with mode='a' or 'w')"
            )
        if not isinstance(data, Showers):
            raise TypeError(f"Can only assign Showers, not {type(data).__name__}.")
        count = selection_length(selection, self.num_showers)
        if len(data) != count:
            raise ValueError(
                f"file '{self.path}': cannot assign {len(data)} showers to "
                f"{count} rows."
            )
        if data.points.shape[1:] != self.shape[1:]:
            raise ValueError(
                f"file '{self.path}', dataset 'showers': shape mismatch: the file "
                f"holds showers of shape {self.shape[1:]}, got {data.points.shape[1:]}."
            )
        rows = np.arange(self.num_showers)[selection] if count else np.empty(0, int)
        contiguous = isinstance(selection, slice) and selection.step == 1
        chunk = 65536
        for offset, block in iter_blocks(data._fields(), chunk_length=chunk):
            if contiguous:
                self._format.write_fields(self.file, selection.start + offset, block)
            else:
                for k, row in enumerate(rows[offset : offset + len(block["points"])]):
                    self._format.write_fields(
                        self.file, int(row), {n: v[k : k + 1] for n, v in block.items()}
                    )

    def __iter__(self) -> Iterator[Showers]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"ShowerDataFile('{_location(self.path)}', {state}, shape={self.shape})"


__all__ = ["ShowerDataFile"]
