"""``kernel``: numba's ``njit``, deferred to the first call of each kernel.

Importing numba costs more than the rest of ``import showerdata``, and most
sessions (opening a file, looking at a shower) never run a kernel. A
:class:`Kernel` holds the Python function and its ``njit`` options; its first
call imports numba and builds the dispatcher, which compiles the kernel or
loads it from numba's on-disk cache (``cache=True``), exactly as the decorator
would have at import.

Kernels call other kernels: numba types a callee only if the module global it
names is a numba dispatcher when the caller compiles. So building a kernel's
dispatcher first builds every kernel its module's globals name and puts the
dispatchers there; calls from Python keep going through the :class:`Kernel`.
A dispatcher is published (to its module and to other threads) only after its
callees are: a thread that found it earlier would compile it against a callee
numba cannot type.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Kernel", "all_kernels", "kernel"]

# One lock for all kernels: building one builds its module's callees too.
_lock = threading.RLock()
_registry: list[Kernel] = []


class Kernel:
    """A numba kernel whose dispatcher is built on first use.

    Parameters
    ----------
    function : callable
        The kernel's Python source.
    options : dict
        Options of :func:`numba.njit` (``nogil``, ``cache``, ``inline``, ...).
    """

    def __init__(self, function: Callable[..., Any], options: dict[str, Any]) -> None:
        functools.update_wrapper(self, function)
        self.py_func = function
        self.options = options
        self._dispatcher: Any = None
        self._building: Any = None
        _registry.append(self)

    def dispatcher(self) -> Any:
        """The numba dispatcher, built now if it is the first use."""
        if self._dispatcher is None:
            with _lock:
                if self._dispatcher is None:
                    self._build()
        return self._dispatcher

    def _build(self) -> None:
        from numba import njit

        namespace = self.py_func.__globals__
        # Made before the callees are built, so that a cycle of kernels finds
        # it instead of building again; numba compiles it only when called.
        self._building = njit(**self.options)(self.py_func)
        for name, value in list(namespace.items()):
            if isinstance(value, Kernel) and value is not self:
                namespace[name] = value._building or value.dispatcher()
        namespace[self.py_func.__name__] = self._building
        self._dispatcher = self._building

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.dispatcher()(*args, **kwargs)

    @property
    def signatures(self) -> list[Any]:
        """Signatures compiled or loaded so far (none before the first call)."""
        return [] if self._dispatcher is None else self._dispatcher.signatures

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        # By name: a process that unpickles it imports the module and uses its
        # own kernel, with its own numba cache.
        return (_kernel_named, (self.__module__, self.__name__))

    def __dask_tokenize__(self) -> tuple[str, str]:
        return (self.__module__, self.__qualname__)

    def __repr__(self) -> str:
        state = "built" if self._dispatcher is not None else "not built yet"
        return f"<showerdata kernel {self.__module__}.{self.__name__} ({state})>"


def _kernel_named(module: str, name: str) -> Any:
    """The kernel ``name`` of ``module`` (its Kernel, or its dispatcher once built)."""
    found = getattr(importlib.import_module(module), name)
    if isinstance(found, Kernel):
        return found
    return next(k for k in _registry if k.__module__ == module and k.__name__ == name)


def kernel(**options: Any) -> Callable[[Callable[..., Any]], Kernel]:
    """Decorator: ``@kernel(nogil=True, cache=True)`` is a deferred ``@njit(...)``."""

    def wrap(function: Callable[..., Any]) -> Kernel:
        return Kernel(function, options)

    return wrap


def all_kernels() -> Iterator[Kernel]:
    """Every kernel of the library (all kernel modules imported)."""
    from . import (  # noqa: F401  (imported for their kernels)
        checks,
        clustering,
        filtering,
        heap,
        layout,
        observables,
        shifting,
    )

    yield from list(_registry)
