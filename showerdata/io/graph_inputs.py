"""Which local files a lazy computation reads, found in its task graph.

The readers' tasks carry their locations (a path, a header or a plan of the
files of a production, never an open handle; see :mod:`.lazy` and
:mod:`.production_rows`), in graph layers of their own. A writer asks this
before it writes, so that it never replaces a file its own tasks still read.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import Any

from dask.highlevelgraph import MaterializedLayer


def read_paths(arrays: Iterable[Any]) -> set[str]:
    """Absolute paths of the existing local files or stores the arrays' tasks name.

    Only layers built from explicit tasks (the readers' own) are looked at;
    the layers dask generates for operations (blockwise, slicing) name no
    files. Values are searched through tuples, lists, dicts and dataclasses.
    """
    found: set[str] = set()
    seen: set[str] = set()
    for array in arrays:
        graph = getattr(array, "__dask_graph__", lambda: None)()
        if graph is None:
            continue
        for name, layer in graph.layers.items():
            if name in seen or not isinstance(layer, MaterializedLayer):
                continue
            seen.add(name)
            for task in layer.values():
                _collect(task, found)
    return found


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if "://" not in text and len(text) < 4096 and os.path.exists(text):
            found.add(os.path.abspath(text))
    elif isinstance(value, (tuple, list)):
        for item in value:
            _collect(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            _collect(getattr(value, field.name), found)


__all__ = ["read_paths"]
