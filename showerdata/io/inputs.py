"""What an input names: one file, or a production of many (a glob, list, directory
or index file), and the files of a production in their order.

Globs and directories list their files in natural order (``part-2`` before
``part-10``); a list keeps the order it was given in.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Sequence
from typing import Any

from .backends import is_zarr

#: Characters that make a path a glob pattern.
GLOB_CHARACTERS = frozenset("*?[")
#: File names a directory of a production holds showers in.
SHOWER_SUFFIXES = (".h5", ".hdf5", ".hdf", ".zarr")
#: How an index file's name ends (``showerdata index ... -o prod.index.json``).
INDEX_SUFFIX = ".json"


def is_index(path: Any) -> bool:
    """Whether ``path`` names an index file of a production.

    Examples
    --------
    >>> is_index("prod.index.json")
    True
    """
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).endswith(
        INDEX_SUFFIX
    )


def is_many(path: Any) -> bool:
    """Whether ``path`` names a production of many files rather than one file.

    A list or tuple, an index file, a directory that is not a zarr store, or
    a glob pattern (a path that does not exist and holds ``*``, ``?`` or ``[``).

    Examples
    --------
    >>> is_many(["a.h5", "b.h5"]), is_many("prod/part-*.h5"), is_many("a.h5")
    (True, True, False)
    """
    if isinstance(path, (list, tuple)):
        return True
    if not isinstance(path, (str, os.PathLike)):
        return False  # a zarr store object
    text = os.fspath(path)
    if "://" in text:
        return False  # a URL: one zarr store
    if is_index(text):
        return True
    if os.path.exists(text):
        return os.path.isdir(text) and not is_zarr(text)
    return any(c in GLOB_CHARACTERS for c in text)


def natural_key(path: str) -> list[Any]:
    """Sort key comparing the numbers in names by value (``2`` before ``10``).

    Examples
    --------
    >>> sorted(["p-10.h5", "p-2.h5"], key=natural_key)
    ['p-2.h5', 'p-10.h5']
    """
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def expand_inputs(path: Any) -> list[Any]:
    """The files a glob, list or directory names, in order (not for index files).

    Raises
    ------
    FileNotFoundError
        A glob that matches no file.
    IsADirectoryError
        A directory holding no shower file.
    ValueError
        An empty list, or an index file inside a list.
    """
    if isinstance(path, (list, tuple)):
        return _expand_list(path)
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str) or not is_many(text):
        return [text]
    if is_index(text):
        raise ValueError(f"'{text}' is an index file: read it with read_index().")
    if os.path.isdir(text):
        return _directory_files(text)
    found = [match for match in glob.glob(text, recursive=True) if not is_index(match)]
    if "**" in text:  # a recursive glob reaches into zarr stores: not files
        found = [match for match in found if not _inside_zarr(match)]
    if not found:
        raise FileNotFoundError(f"No shower file matches '{text}'.")
    return sorted(found, key=natural_key)


def _expand_list(paths: Sequence[Any]) -> list[Any]:
    if len(paths) == 0:
        raise ValueError("No shower files given: the list is empty.")
    files: list[Any] = []
    for item in paths:
        if is_index(item):
            raise ValueError(
                f"'{os.fspath(item)}' is an index file; load it on its own, not in "
                "a list."
            )
        files.extend(expand_inputs(item) if is_many(item) else [_location(item)])
    return files


def _location(item: Any) -> Any:
    return os.fspath(item) if isinstance(item, os.PathLike) else item


def _directory_files(directory: str) -> list[str]:
    names = [
        name
        for name in os.listdir(directory)
        if not name.startswith(".") and name.endswith(SHOWER_SUFFIXES)
    ]
    if not names:
        # What opening a directory as a file raised before it could be a production.
        raise IsADirectoryError(
            f"'{directory}' is a directory holding no shower files "
            f"({', '.join(SHOWER_SUFFIXES)})."
        )
    return [os.path.join(directory, name) for name in sorted(names, key=natural_key)]


def _inside_zarr(path: str) -> bool:
    """Whether a glob match lies inside a zarr store (``prod/**`` reaches there)."""
    parent = os.path.dirname(os.path.abspath(path))
    while True:
        if parent.endswith(".zarr") or os.path.exists(
            os.path.join(parent, "zarr.json")
        ):
            return True
        above = os.path.dirname(parent)
        if above == parent:
            return False
        parent = above


__all__ = ["expand_inputs", "is_index", "is_many", "natural_key"]
