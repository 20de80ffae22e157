"""The file functions of :mod:`.api` for productions of many files.

``api.load(path)`` and its siblings hand a glob, list, directory or index
file over to the functions here (see :func:`.inputs.is_many`). ``start``,
``stop`` and ``max_points`` apply to the production as a whole.
"""

from __future__ import annotations

from typing import Any

from ..attributes import attrs_from_file
from ..deferred import dask_array as da
from ..errors import ShowerDataError
from ..showers import IncidentParticles, Showers
from .lazy import open_target, points_axis, read_points_header, rows_selection
from .production import Production, check_showers, open_production
from .production_rows import ProductionRows


def _width(production: Production, max_points: int | None) -> tuple[int, int]:
    _, largest, features = production.showers_shape()
    width = largest if max_points is None or max_points < 0 else max_points
    return width, features


def load_production(
    path: Any,
    start: int = 0,
    stop: int | None = None,
    max_points: int | None = -1,
    chunks: int | None = None,
) -> Showers:
    """Lazy showers of a production; see :func:`showerdata.load`."""
    production = open_production(path)
    width, features = _width(production, max_points)
    selection = rows_selection(production.name, production.num_rows, start, stop)
    rows = ProductionRows(
        production, Showers, selection, chunks, max_points=width, num_features=features
    )
    showers = rows.to_bundle()
    showers.attrs = attrs_from_file(production.attrs)
    return showers


def load_production_particles(
    path: Any, start: int = 0, stop: int | None = None, chunks: int | None = None
) -> IncidentParticles:
    """Lazy incident particles of a production's files."""
    production = open_production(path)
    selection = rows_selection(production.name, production.num_rows, start, stop)
    particles = ProductionRows(
        production, IncidentParticles, selection, chunks
    ).to_bundle()
    particles.attrs = attrs_from_file(production.attrs)
    return particles


def production_shape(path: Any) -> tuple[int, int, int]:
    """(total N, largest P, F) of a production's showers."""
    return open_production(path).showers_shape()


def production_length(path: Any) -> int:
    """Total number of showers (or incident particles) of a production."""
    return open_production(path).num_rows


def production_metadata(path: Any) -> dict[str, Any]:
    """Root attributes all files of a production agree on."""
    return dict(open_production(path).attrs)


def load_production_target(
    path: Any,
    key: str = "target",
    start: int = 0,
    stop: int | None = None,
    max_points: int | None = -1,
) -> tuple[da.Array, da.Array]:
    """Lazy ``(points, num_points)`` of target ``key`` over a production's files.

    Each file's target is read as it is in one file (its chunks are its own);
    point axes are padded to the largest P.
    """
    production = open_production(path)
    check_showers(production)
    headers = [read_points_header(e.location, key) for e in production.entries]
    widths = {h.num_features for h in headers}
    if len(widths) > 1:
        first = {h.num_features: h.path for h in headers}
        (f_a, a), (f_b, b) = list(first.items())[:2]
        raise ShowerDataError(
            f"target '{key}' has F = {f_b} but '{a}' has F = {f_a}", path=b
        )
    width = max(points_axis(h, max_points) for h in headers)
    selection = rows_selection(production.name, production.num_rows, start, stop)
    points, counts = [], []
    for entry, low, high in zip(
        production.entries, production.offsets[:-1], production.offsets[1:], strict=True
    ):
        first, last = max(selection.start, low), min(selection.stop, high)
        if first >= last:
            continue
        p, n = open_target(
            entry.location, key, int(first - low), int(last - low), width
        )
        points.append(p)
        counts.append(n)
    if not points:
        entry = production.entries[0]
        return open_target(entry.location, key, 0, 0, width)
    return da.concatenate(points), da.concatenate(counts)


__all__ = [
    "load_production",
    "load_production_particles",
    "load_production_target",
    "production_length",
    "production_metadata",
    "production_shape",
]
