"""A quick view of an HDF5 file's datasets, for reading the headers of many files.

Opening a dataset through h5py's high-level API builds several objects and
property lists, ten times the cost of the low-level ``h5py.h5d.open``; a
production's header checks open seven datasets per file. The view answers
what the checks ask (``name in view``, ``view[name].dtype``, ``.shape``,
``.ndim``, ``view[name][()]``) through h5py's public low-level API.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np


class HeaderDataset:
    """dtype, shape and whole-array reads of one dataset, by its low-level id."""

    def __init__(self, dataset_id: h5py.h5d.DatasetID) -> None:
        self.id = dataset_id
        self.dtype = dataset_id.dtype
        self.shape = tuple(dataset_id.shape)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> Any:
        if key == () and self.dtype.kind in "biuf":
            values = np.empty(self.shape, self.dtype)
            self.id.read(h5py.h5s.ALL, h5py.h5s.ALL, values)
            return values
        return h5py.Dataset(self.id)[key]


class HeaderView:
    """The datasets of an open file as :class:`HeaderDataset` (groups as h5py's)."""

    def __init__(self, file: h5py.File) -> None:
        self.file = file
        self.attrs = file.attrs

    def __contains__(self, name: str) -> bool:
        return name in self.file

    def __getitem__(self, name: str) -> Any:
        try:
            return HeaderDataset(h5py.h5d.open(self.file.id, name.encode()))
        except (KeyError, ValueError):
            return self.file[name]  # a group, or missing: h5py says which


def header_view(file: h5py.File) -> HeaderView:
    """A quick view of ``file`` for header checks (see the module notes)."""
    return HeaderView(file)


__all__ = ["HeaderDataset", "HeaderView", "header_view"]
