"""What is in a shower file, and whether all of it reads: ``info`` and ``verify``.

:func:`describe_file` lists counts, shape, size, attributes and datasets without
reading points; :func:`verify_file` reads every chunk with all the checks of a
normal read, plus those of the incident particles, targets and per-shower
datasets, and raises at the first problem.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .execution import Execution
from .graphs import compute


def list_datasets(path: str) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every dataset (array) of a file or store: name -> (dtype, shape)."""
    from .io.backends import backend_for

    return backend_for(path).list_datasets(path)


def _format_of(path: str) -> str:
    from .io.backends import is_zarr

    return "zarr store" if is_zarr(path) else "HDF5 file"


def describe_file(path: str) -> str:
    """What ``showerdata info`` prints about one file: counts, shape, contents."""
    from .errors import ShowerDataError
    from .io.api import get_file_length, get_file_shape, load, load_metadata
    from .io.backends import backend_for

    size_on_disk = backend_for(path).size_on_disk

    lines = []
    try:
        count, max_points, features = get_file_shape(path)
    except ShowerDataError:
        raise  # showers that are there but wrong: not "no showers"
    except ValueError:
        # No showers: a file of incident particles, or not ours at all.
        count = get_file_length(path)
        lines.append(f"{path}: {count:,} incident particles, no showers")
    else:
        lines.append(f"{path}: {count:,} showers, P = {max_points}, F = {features}")
        (num_points,) = compute(load(path).num_points)
        if len(num_points):
            lines.append(
                f"  points per shower: min {num_points.min()}, mean "
                f"{num_points.mean():.1f}, max {num_points.max()}"
            )
    lines.append(f"  {_format_of(path)}, {size_on_disk(path) / 2**20:,.1f} MiB on disk")
    metadata = load_metadata(path)
    if metadata:
        lines.append("  attributes:")
        lines += [f"    {key} = {value}" for key, value in sorted(metadata.items())]
    lines.append("  datasets:")
    datasets = list_datasets(path)
    width = max((len(name) for name in datasets), default=0)
    for name, (dtype, shape) in datasets.items():
        lines.append(f"    {name:<{width}}  {dtype:<14} {shape}")
    return "\n".join(lines)


def _target_keys(datasets: Iterable[str]) -> list[str]:
    return sorted(
        name.rsplit("/", 1)[0] for name in datasets if name.endswith("/point_clouds")
    )


def _check_particles(path: str, start: int, block: dict[str, np.ndarray]) -> None:
    """Checks of the incident particles beyond what reading does."""
    energies = block["energies"][:, 0]
    bad = ~np.isfinite(energies) | (energies < 0)
    _raise_at_first(
        bad,
        lambda i: f"incident energy {energies[i]} is negative or not finite",
        path,
        "energies",
        start,
    )
    directions = block["directions"]
    bad = ~np.isfinite(directions).all(axis=1) | ~directions.any(axis=1)
    _raise_at_first(
        bad,
        lambda i: f"direction {directions[i].tolist()} is zero or not finite",
        path,
        "directions",
        start,
    )


def _raise_at_first(
    bad: np.ndarray,
    problem: Callable[[int], str],
    path: str,
    dataset: str,
    start: int,
) -> None:
    """Raise :class:`ShowerDataError` for the first row of a block where ``bad``."""
    from .errors import ShowerDataError

    if bad.any():
        first = int(np.argmax(bad))
        raise ShowerDataError(
            problem(first), path=path, dataset=dataset, index=start + first
        )


@dataclass
class VerifyReport:
    """What ``showerdata verify`` found in one file (made only if all is well)."""

    path: str
    num_showers: int
    chunks: int
    targets: list[str]
    observables: int

    def line(self) -> str:
        """One line for the terminal."""
        text = f"{self.path}: OK, {self.num_showers:,} showers in {self.chunks} chunks"
        if self.targets:
            text += f"; targets {', '.join(self.targets)}"
        if self.observables:
            text += f"; {self.observables} observables"
        return text


def _check_chunks(
    fields: dict[str, Any],
    check: Callable[[int, dict[str, np.ndarray]], None],
    progress: bool,
    description: str,
) -> int:
    """Compute every chunk of ``fields`` (a window at a time) and ``check`` it.

    Raises the problem of the first bad chunk in file order, even when a later
    chunk of the same window failed first. Returns the number of chunks.
    """
    from .graphs import compute_chunks
    from .progress import progress_bar
    from .streaming import chunks_in_flight

    names, arrays = list(fields), list(fields.values())
    lengths = arrays[0].chunks[0]
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(int).tolist()

    window = chunks_in_flight()
    with progress_bar(
        progress, total=starts[-1], unit="showers", desc=description
    ) as bar:
        for first in range(0, len(lengths), window):
            group = range(first, min(first + window, len(lengths)))
            try:
                values = compute_chunks(arrays, group)
            except Exception:
                # Chunks of a window run at once: find the first bad one.
                for chunk in group:
                    (one,) = compute_chunks(arrays, [chunk])
                    check(starts[chunk], dict(zip(names, one, strict=True)))
                raise
            for chunk, mine in zip(group, values, strict=True):
                check(starts[chunk], dict(zip(names, mine, strict=True)))
                bar.update(lengths[chunk])
            del values
    return len(lengths)


def verify_file(path: str, run: Execution) -> VerifyReport:
    """Read every chunk of ``path`` with all checks; raise at the first problem.

    Raises
    ------
    ShowerDataError
        Bad data, naming file, dataset and shower index.
    ValueError, KeyError, OSError
        The file is not a readable shower file.
    """
    from .errors import ShowerDataError
    from .io.api import get_file_shape, load_inc_particles, load_target

    name = os.path.basename(path.rstrip("/"))
    try:
        count = get_file_shape(path)[0]
    except ShowerDataError:
        raise  # showers that are there but wrong must fail, not pass as particles
    except ValueError:
        particles = load_inc_particles(path)
        count, fields = len(particles), particles._fields()
    else:
        fields = run.load(path)._fields()
    datasets = list_datasets(path)

    def particles_ok(start: int, block: dict[str, np.ndarray]) -> None:
        _check_particles(path, start, block)

    chunks = _check_chunks(fields, particles_ok, run.progress, f"verify {name}")
    targets = _target_keys(datasets)
    for key in targets:
        points, num_points = load_target(path, key)
        fields = {"points": points, "num_points": num_points}
        _check_chunks(fields, lambda *_: None, run.progress, f"verify {name}:{key}")
    # Everything else with rows (observables, your own datasets) must have one
    # row per shower.
    observables = 0
    for dataset, (_, shape) in datasets.items():
        leaf = dataset.rsplit("/", 1)[-1]
        if leaf == "shape" or not shape:
            continue
        if shape[0] != count:
            raise ShowerDataError(
                f"has {shape[0]} rows, expected one per shower ({count})",
                path=path,
                dataset=dataset,
            )
        observables += dataset.startswith("observables/")
    return VerifyReport(path, count, chunks, targets, observables)
