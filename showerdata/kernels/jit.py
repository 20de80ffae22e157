"""``kernel``: numba's ``njit``, deferred to the first call of each kernel.

Importing numba costs more than the rest of ``import showerdata``, and most
sessions (opening a file, looking at a shower) never run a kernel. A
:class:`Kernel` holds the Python function and its ``njit`` options; its first
call imports numba and builds the dispatcher, which compiles the kernel or
loads it from numba's on-disk cache (``cache=True``), exactly as the decorator
would have at import.

Kernels call other kernels: numba types a callee only if the global it names
is a numba dispatcher when the caller compiles. So each kernel is compiled
from a copy of its function whose globals are those of its module with every
kernel replaced by its dispatcher. The module itself is never changed: Python
code that calls a kernel always goes through its :class:`Kernel`, which hands
out a dispatcher only once every kernel it may call has one (another thread
meeting a half-built one would compile it against a callee numba cannot type,
and numba remembers that failure).
"""

from __future__ import annotations

import functools
import importlib
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Kernel", "all_kernels", "kernel"]

# One lock for all kernels: building one builds the kernels it may call too.
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
        _registry.append(self)

    def dispatcher(self) -> Any:
        """The numba dispatcher, built now if it is the first use."""
        if self._dispatcher is None:
            with _lock:
                if self._dispatcher is None:
                    built: dict[Kernel, Any] = {}
                    _build_with_callees(self, built)
                    # Published last, all together: no thread can get a
                    # dispatcher whose callees are not dispatchers yet.
                    for each, dispatcher in built.items():
                        each._dispatcher = dispatcher
        return self._dispatcher

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


def _build_with_callees(root: Kernel, built: dict[Kernel, Any]) -> Any:
    """Make the dispatcher of ``root`` and of every kernel its globals name.

    Making a dispatcher compiles nothing, so a cycle of kernels is resolved by
    entering each one in ``built`` before its globals are filled.
    """
    from numba import njit

    if root._dispatcher is not None:
        return root._dispatcher
    if root in built:
        return built[root]
    function = root.py_func
    namespace = dict(function.__globals__)
    copy = types.FunctionType(
        function.__code__,
        namespace,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copy.__kwdefaults__ = function.__kwdefaults__
    built[root] = njit(**root.options)(copy)
    for name, value in namespace.items():
        if isinstance(value, Kernel):
            namespace[name] = _build_with_callees(value, built)
    return built[root]


def _kernel_named(module: str, name: str) -> Kernel:
    """The kernel ``name`` of ``module``."""
    return getattr(importlib.import_module(module), name)


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
