"""``ShowerDataFile``: an open shower file, indexed like an h5py dataset."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from types import TracebackType

import h5py
import numpy as np

from ..indexing import IndexLike, Selection, normalize_index, selection_length
from ..showers import Showers
from .handles import forget, open_hdf5
from .hdf5_read import read_points_header, read_shower_rows
from .hdf5_write import check_destination, create_showers_layout, write_fields
from .streaming import iter_blocks


class ShowerDataFile:
    """Context manager over an HDF5 shower file.

    Indexing returns in-memory :class:`Showers` (as an h5py dataset returns
    numpy); assigning :class:`Showers` (in memory or lazy) writes them.

    Parameters
    ----------
    path : str or os.PathLike
        Shower file.
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
        self._final_path: str | None = None
        if mode not in ("r", "w", "a"):
            raise ValueError(f"Invalid mode '{mode}'. Must be 'r', 'w', or 'a'.")
        if mode == "w":
            if shape is None:
                raise ValueError(
                    "Shape must be specified when opening a file for writing."
                )
            self._final_path = check_destination(path, overwrite=True)
            directory, name = os.path.split(os.path.abspath(self._final_path))
            working = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:8]}.partial")
            self.file = h5py.File(working, "w")
            from .._version import __version__

            self.file.attrs["showerdata_version"] = __version__
            create_showers_layout(self.file, tuple(int(d) for d in shape))
        else:
            if mode == "a":
                forget(path)
            self.file = open_hdf5(path, "r" if mode == "r" else "r+")
        self.attrs = self.file.attrs
        self._header = read_points_header(self.file.filename, handle=self.file)

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
        if not self.file:
            return
        working = self.file.filename
        self.file.close()
        if self._final_path is not None:
            if discard:
                os.remove(working)
            else:
                forget(self._final_path)
                os.replace(working, self._final_path)
            self._final_path = None

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
        if not self.file:
            raise ValueError(f"File '{self.path}' is closed.")
        return normalize_index(index, self.num_showers)

    # -- reading and writing --------------------------------------------------

    def __getitem__(self, index: IndexLike) -> Showers:
        selection = self._selection(index)
        return read_shower_rows(self.file, self._header, selection)

    def __setitem__(self, index: IndexLike, data: Showers) -> None:
        selection = self._selection(index)
        if self.file.mode != "r+":
            raise ValueError(
                f"File '{self.path}' is not open for writing (mode 'r'); open it with "
                "mode='a' or 'w'."
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
                write_fields(self.file, selection.start + offset, block)
            else:
                for k, row in enumerate(rows[offset : offset + len(block["points"])]):
                    write_fields(
                        self.file, int(row), {n: v[k : k + 1] for n, v in block.items()}
                    )

    def __iter__(self) -> Iterator[Showers]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        state = "open" if self.file else "closed"
        return f"ShowerDataFile('{os.fspath(self.path)}', {state}, shape={self.shape})"


__all__ = ["ShowerDataFile"]
