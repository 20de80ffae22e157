"""Heavy dependencies imported on first use, so ``import showerdata`` stays light.

``dask.array`` costs more to import than numpy and h5py together, and a
session that only opens a file in the 0.7 mode, or reads one shower, never
builds an array graph. Modules of the library name it through
:data:`dask_array`, which imports it at the first attribute access.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

__all__ = ["DeferredModule", "dask_array", "is_dask_array"]


class DeferredModule:
    """A module imported at the first attribute access (``da.Array``)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _module(self) -> ModuleType:
        return sys.modules.get(self._name) or importlib.import_module(self._name)

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):  # copy, pickle and inspect probe these
            raise AttributeError(attribute)
        return getattr(self._module(), attribute)

    def __repr__(self) -> str:
        state = "imported" if self._name in sys.modules else "not imported yet"
        return f"<deferred module {self._name!r} ({state})>"


#: ``dask.array``, imported on first use.
dask_array: Any = DeferredModule("dask.array")


def is_dask_array(value: Any) -> bool:
    """Whether ``value`` is a dask array, without importing dask.array.

    Nothing can be a dask array before dask.array was imported.
    """
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(value, module.Array)
