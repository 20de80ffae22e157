"""Dask graphs of one task per chunk along showers: building them, computing chunks."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import dask
import numpy as np
from dask.base import named_schedulers, tokenize
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph
from dask.utils import funcname

from .deferred import dask_array as da
from .deferred import is_dask_array


def local_scheduler() -> Callable[..., Any] | None:
    """The scheduler dask would pick, where it runs in this process; else None.

    To pick one, dask imports distributed (0.3 to 0.4 s in a fresh process)
    only to ask whether a Client is active -- even when the configuration
    names the threads. No Client can be active unless distributed was
    imported already, so then the choice is the configured local scheduler
    (by name, as dask resolves it) or dask's default, the threads. None:
    leave the choice to dask.
    """
    if "distributed" in sys.modules:
        return None
    configured = dask.config.get("scheduler", None)
    if configured is None:
        return dask.threaded.get
    if isinstance(configured, str):
        return named_schedulers.get(configured.lower())
    return None


def compute(*collections: Any, **kwargs: Any) -> tuple[Any, ...]:
    """``dask.compute``, naming the default scheduler where it is the threads one."""
    return dask.compute(*collections, **_naming_scheduler(kwargs))


def persist(*collections: Any, **kwargs: Any) -> tuple[Any, ...]:
    """``dask.persist``, naming the default scheduler like :func:`compute`."""
    return dask.persist(*collections, **_naming_scheduler(kwargs))


def _naming_scheduler(kwargs: dict[str, Any]) -> dict[str, Any]:
    if "scheduler" not in kwargs and (local := local_scheduler()) is not None:
        return {**kwargs, "scheduler": local}
    return kwargs


def rechunk(array: da.Array, chunks: Any) -> da.Array:
    """``array.rechunk(chunks)``, without dask importing distributed to pick a method.

    dask asks for a Client to choose between task and p2p rechunking; with
    distributed not imported there is none, and the choice is "tasks".
    """
    method = None
    if "distributed" not in sys.modules and not dask.config.get(
        "array.rechunk.method", None
    ):
        method = "tasks"
    return array.rechunk(chunks, method=method)


def lazy_from_tasks(
    name: str,
    task: Callable[..., Any],
    arguments: Sequence[tuple[Any, ...]],
    lengths: Sequence[int],
    tail_shape: tuple[int, ...],
    dtype: str,
    dependencies: dict | None = None,
) -> da.Array:
    """Dask array with one task ``task(*arguments[i])`` per chunk along axis 0.

    Arguments may name keys of ``dependencies`` (a graph the tasks read from),
    which lets several arrays share one upstream task per chunk.
    """
    zeros = (0,) * len(tail_shape)
    graph = {(name, i, *zeros): (task, *args) for i, args in enumerate(arguments)}
    graph.update(dependencies or {})
    chunks = (tuple(lengths), *((d,) for d in tail_shape))
    meta = np.empty((0,) * (1 + len(tail_shape)), dtype=dtype)
    return da.Array(
        HighLevelGraph.from_collections(name, graph),
        name,
        chunks,
        dtype=dtype,
        meta=meta,
    )


def compute_chunks(
    arrays: Sequence[da.Array], chunks: Sequence[int], scheduler: Any = None
) -> list[list[Any]]:
    """Chunks ``chunks`` (along axis 0) of every array, computed in one pass.

    Returns one list per chunk, holding that chunk of each array in order:
    the tasks' own results. ``dask.compute(a.blocks[i])`` would copy each of
    them into a new array when it finalizes the one-chunk array, a copy into
    fresh memory of every chunk that cost more than filtering it. Tasks the
    arrays share (points and the num_points counted from them) run once.
    ``scheduler``: as for ``dask.compute``; default: the active one.
    """
    keys = {i: [(a.name, i, *(0,) * (a.ndim - 1)) for a in arrays] for i in chunks}
    layer = "chunks-" + tokenize(*[a.name for a in arrays], list(chunks))
    tasks = {(layer, i): (list, keys[i]) for i in chunks}
    graph = HighLevelGraph.from_collections(layer, tasks, dependencies=list(arrays))
    delayed = [Delayed((layer, i), graph, layer=layer) for i in chunks]
    if scheduler is not None:
        return list(compute(*delayed, scheduler=scheduler))
    return list(compute(*delayed))


def compute_into(arrays: Sequence[da.Array], outs: Sequence[np.ndarray]) -> None:
    """Compute arrays chunked along axis 0 into ``outs``, block by block.

    One graph whose single result is None: one task per block puts it in
    its rows of the output (unless the task that made it wrote it there, see
    :func:`filling`). ``da.store`` does the same with a layer and a finalize
    step per array, serial work that delays every parallel step after it.
    """
    arrays = [rechunk(a, {axis: -1 for axis in range(1, a.ndim)}) for a in arrays]
    layer = "compute-into-" + tokenize(*[a.name for a in arrays], *map(id, outs))
    tasks: dict[Any, Any] = {}
    for array, out in zip(arrays, outs, strict=True):
        edges = np.cumsum((0, *array.chunks[0])).tolist()
        for i in range(len(array.chunks[0])):
            block = (array.name, i, *(0,) * (array.ndim - 1))
            tasks[(layer, array.name, i)] = (_put, out, edges[i], edges[i + 1], block)
    tasks[layer] = (_nothing, list(tasks))
    graph = HighLevelGraph.from_collections(layer, tasks, dependencies=arrays)
    compute(Delayed(layer, graph, layer=layer))


def _put(out: np.ndarray, start: int, stop: int, block: np.ndarray) -> None:
    rows = out[start:stop]
    if not _same_memory(rows, block):
        rows[...] = block


def _nothing(_: Any) -> None:
    return None


def _same_memory(a: np.ndarray, b: Any) -> bool:
    return (
        isinstance(b, np.ndarray)
        and a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def rows_blockwise(
    function: Callable[..., Any],
    out_index: str,
    *arguments: Any,
    dtype: Any,
    name: str | None = None,
    **kwargs: Any,
) -> da.Array:
    """``da.blockwise`` over arrays chunked along showers only, without copies.

    ``arguments`` are ``array, index`` pairs as for ``da.blockwise``; axes
    other than the first are made one chunk, so ``function`` gets one block of
    each array. dask would otherwise concatenate the one block of every axis
    that is not in ``out_index`` into a new array (a copy of every points
    chunk for a per-shower count). ``name`` is the result's name (default:
    the function's name and a token). Other keyword arguments go to blockwise.
    """
    pairs = []
    for array, index in zip(arguments[::2], arguments[1::2], strict=True):
        if is_dask_array(array) and array.ndim > 1:
            array = rechunk(array, {axis: -1 for axis in range(1, array.ndim)})
        pairs += [array, index]
    meta = np.empty((0,) * len(out_index), dtype=dtype)
    return da.blockwise(
        functools.partial(_call_on_blocks, function),
        out_index,
        *pairs,
        concatenate=False,
        dtype=dtype,
        meta=meta,
        token=funcname(function),  # keys named after the op, not the wrapper
        name=name,
        **kwargs,
    )


def _call_on_blocks(function: Callable[..., Any], *blocks: Any, **kwargs: Any) -> Any:
    # A contracted axis arrives as a list of its (single) block.
    singles = []
    for block in blocks:
        while isinstance(block, list):
            (block,) = block
        singles.append(block)
    return function(*singles, **kwargs)


# -- a local compute that fills its result in place --------------------------------

_filling: dict[str, np.ndarray] = {}
_filling_lock = threading.Lock()


@contextmanager
def filling(outputs: Mapping[str, np.ndarray]) -> Iterator[set[str]]:
    """Let the tasks of the named dask arrays write their blocks into ``outputs``.

    For a compute in this process (threads or sync) into preallocated,
    zero-filled arrays: a task that asks for its :func:`destination` writes
    its rows of the output instead of a new block and returns that view, so
    there is no block to clear and no copy to make, and pages that padding
    would fill are never touched. Yields the names taken; an array that
    another compute is filling at the same time is left out.
    """
    with _filling_lock:
        names = {name for name in outputs if name not in _filling}
        _filling.update({name: outputs[name] for name in names})
    try:
        yield names
    finally:
        with _filling_lock:
            for name in names:
                del _filling[name]


def destination(name: str, rows: np.ndarray) -> np.ndarray | None:
    """The output rows ``rows`` (consecutive positions) of dask array ``name``.

    None unless a :func:`filling` compute holds an output for ``name``.
    """
    out = _filling.get(name)
    if out is None or len(rows) == 0:
        return None
    first, last = int(rows[0]), int(rows[-1])
    if last - first + 1 != len(rows):
        return None
    return out[first : last + 1]
