"""Building dask arrays directly from one task per chunk along showers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import dask.array as da
import numpy as np
from dask.highlevelgraph import HighLevelGraph


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
