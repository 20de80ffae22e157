"""Applying a block function to lazy or in-memory showers: one code path for both.

A block function takes ``(points, shower_index, *aligned)`` numpy blocks, where
``shower_index`` holds the position of each shower in the whole ``Showers`` (so
errors and seeded randomness do not depend on the chunking) and ``aligned`` are
other per-shower fields such as ``directions``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from dask.base import tokenize
from dask.utils import funcname

from ..attributes import after_points_changed
from ..deferred import dask_array as da
from ..graphs import destination, rows_blockwise
from ..kernels.layout import count_leading_points
from ..showers import Showers

BlockFunction = Callable[..., np.ndarray]

_SPARE_AXES = "abcdefgh"  # index letters for trailing axes of aligned fields


def _blockwise_arguments(showers: Showers, aligned: tuple[Any, ...]) -> list[Any]:
    # _fields(): lazy points edited in place carry their check (see Showers).
    points = showers._fields()["points"]
    index = da.arange(len(showers), chunks=(points.chunks[0],), dtype=np.int64)
    arguments: list[Any] = [points, "ijk", index, "i"]
    for array in aligned:
        arguments += [array, "i" + _SPARE_AXES[: array.ndim - 1]]
    return arguments


def map_points(
    showers: Showers,
    block: BlockFunction,
    *aligned: Any,
    step: dict[str, Any] | None = None,
    **params: Any,
) -> Showers:
    """Showers whose points are ``block(points, shower_index, *aligned, **params)``.

    The block must keep the shape of ``points``, return valid padded points
    and take ``out=``: None, or the zero-filled rows of the result to write
    them into (see :func:`showerdata.graphs.filling`);
    ``num_points`` is counted from its output (for lazy data from the same
    task, so the op runs once per chunk). Other fields are carried over.
    ``step``: the attrs that record the operation (see
    :func:`showerdata.attributes.after_points_changed`).
    """
    function = functools.partial(block, **params)
    if showers.is_lazy:
        arguments = _blockwise_arguments(showers, aligned)
        name = f"{funcname(block)}-{tokenize(function, *arguments)}"
        points = rows_blockwise(
            functools.partial(_into_destination, function, name),
            "ijk",
            *arguments,
            dtype=np.float32,
            name=name,
        )
        others = {n: getattr(showers, n) for n in Showers.FIELDS}
    else:
        points = function(showers.points, np.arange(len(showers)), *aligned)
        # Copies, as 0.7 returned independent arrays; points are new anyway.
        others = {n: getattr(showers, n).copy() for n in Showers.FIELDS[1:]}
    # Op outputs are valid padded points: each shower is counted up to its
    # first padding point.
    if showers.is_lazy:
        num_points = rows_blockwise(
            count_leading_points, "i", points, "ijk", dtype=np.int32
        )
    else:
        num_points = count_leading_points(points)
    attrs = after_points_changed(showers.attrs, **(step or {}))
    return Showers._from_fields(
        {**others, "points": points, "num_points": num_points}, attrs=attrs
    )


def _into_destination(
    function: BlockFunction,
    name: str,
    points: np.ndarray,
    shower_index: np.ndarray,
    *aligned: Any,
) -> np.ndarray:
    # Where a local compute fills the result in place, the block is its rows.
    out = destination(name, shower_index)
    return function(points, shower_index, *aligned, out=out)


def map_values(
    showers: Showers,
    block: BlockFunction,
    width: int,
    dtype: type,
    **params: Any,
) -> Any:
    """Per-shower values ``(N, width)`` of ``block(points, shower_index, **params)``.

    Lazy showers give a dask array, in-memory showers a numpy array.
    """
    function = functools.partial(block, **params)
    if not showers.is_lazy:
        return function(showers.points, np.arange(len(showers)))
    return rows_blockwise(
        function,
        "il",
        *_blockwise_arguments(showers, ()),
        new_axes={"l": width},
        dtype=dtype,
    )
