"""The main job on an embedded default: a toy production, processed out of core."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from dask.utils import format_bytes

from .detector import get_ILD_geometry
from .execution import Execution, ExecutionOptions, peak_memory_mib
from .graphs import compute
from .io.api import load, save
from .io.convert import convert
from .observables import add_observables_to_file
from .ops.clustering import cluster
from .ops.filtering import filter_showers
from .plot import MissingDependencyError, plot_productions
from .replacing import remove
from .showers import Showers
from .toy import toy_showers

#: Everything the demo writes into its directory; ``clean_demo`` removes these
#: and nothing else, whatever else the directory holds.
DEMO_FILES = ("toy-production.h5", "clustered.h5", "clustered.zarr", "observables.png")


@dataclass
class Step:
    """What one step of the job did, for the summary."""

    name: str
    seconds: float
    showers: int
    bytes_written: int

    def line(self) -> str:
        rate = self.showers / self.seconds if self.seconds else float("inf")
        mb_per_s = self.bytes_written / 2**20 / self.seconds if self.seconds else 0.0
        written = f"  {mb_per_s:8.1f} MB/s written" if self.bytes_written else ""
        return (
            f"  {self.name:<28} {self.seconds:7.2f} s  {rate:10,.0f} showers/s{written}"
        )


def _timed_save(name: str, showers: Showers, path: Path, progress: bool) -> Step:
    began = time.perf_counter()
    save(showers, path, overwrite=True, progress=progress)
    return Step(name, time.perf_counter() - began, len(showers), os.path.getsize(path))


def describe_shower(showers: Showers, index: int) -> str:
    """One line about shower ``index`` (reads only that shower)."""
    one = showers[index].compute()
    count = int(one.num_points[0])
    energy = one.points[0, :count, 3].sum()
    layers = one.points[0, :count, 2]
    return (
        f"shower {index:,}: {count} points, incident {one.energies[0, 0]:.1f} GeV, "
        f"visible {energy * 1e3:.1f} MeV, layers {layers.min():.0f}-{layers.max():.0f}"
    )


def run_demo(
    output: str | os.PathLike[str] = "demo-output",
    num_showers: int = 20_000,
    max_points: int = 2000,
    seed: int = 42,
    progress: bool = True,
    run: Execution | None = None,
) -> list[Step]:
    """Generate a toy production, process it, and plot it against the result.

    The job: generate and save a production; load it lazily; filter, cluster
    and save (one streamed graph); add the observables; convert the result
    to a zarr store; plot the observables of both files (if matplotlib is
    installed).

    Parameters
    ----------
    output : path
        Directory for the files (created).
    num_showers, max_points, seed
        Size and seed of the toy production.
    progress : bool
        Show progress bars.
    run : Execution, optional
        Where the plot's reductions run; default the active scheduler.

    Returns
    -------
    list of Step
        Timings of the steps, also printed as a summary.
    """
    directory = Path(output)
    directory.mkdir(parents=True, exist_ok=True)
    production = directory / "toy-production.h5"
    toy = toy_showers(num_showers, seed=seed, max_points=max_points)
    print(announcement(directory, toy))
    steps = [_timed_save("generate + save", toy, production, progress)]

    began = time.perf_counter()
    showers = load(production)
    opened = time.perf_counter() - began
    print(f"opened {production} lazily in {opened * 1e3:.1f} ms: {showers}")
    print(describe_shower(showers, len(showers) // 3))

    # The main job, built lazily and run chunk by chunk by the writer: detector
    # thresholds, clustering on a seeded shifted grid, then observables.
    geometry = get_ILD_geometry()
    filtered = filter_showers(
        showers,
        ecal_threshold=geometry.ecal_threshold / 1e3,
        hcal_threshold=geometry.hcal_threshold / 1e3,
        num_layers_ecal=geometry.num_layers_ecal,
    )
    clustered = cluster(filtered, detector_config=geometry, seed=seed)
    output_path = directory / "clustered.h5"
    clustered = clustered.assign_attrs(seed=seed)  # saved with clustered_for
    steps.append(
        _timed_save("filter + cluster + save", clustered, output_path, progress)
    )

    began = time.perf_counter()
    add_observables_to_file(output_path, overwrite=True)
    steps.append(Step("observables", time.perf_counter() - began, len(showers), 0))
    before, after = compute(
        showers.num_points.sum(), load(output_path).num_points.sum()
    )
    print(f"points: {int(before):,} simulated hits -> {int(after):,} clustered cells")

    # The zarr mirror of the result, observables included: the store to
    # write from many workers at once, or to read from object storage.
    store = directory / "clustered.zarr"
    began = time.perf_counter()
    convert(output_path, store, overwrite=True)
    steps.append(Step("convert to zarr", time.perf_counter() - began, len(showers), 0))

    plot = directory / "observables.png"
    began = time.perf_counter()
    try:
        plot_productions(
            [str(production), str(output_path)],
            str(plot),
            run or Execution(ExecutionOptions(progress=progress)),
            labels=["simulated hits", "clustered cells"],
        )
    except MissingDependencyError as error:
        print(f"no plot: {error}")
    else:
        steps.append(Step("plot", time.perf_counter() - began, 2 * len(showers), 0))
        print(f"plot of the observables: {plot}")

    print("\nsummary")
    for step in steps:
        print(step.line())
    print(f"  peak memory {peak_memory_mib():,.0f} MiB")
    print(written_report(directory))
    return steps


def announcement(directory: Path, toy: Showers) -> str:
    """Where the demo writes and an upper bound of how much, before it starts."""
    copies = 3  # the production, the clustered file and its zarr mirror
    return (
        f"demo: writing {len(toy):,} toy showers into {directory.resolve()}: the "
        f"production, the clustered showers as HDF5 and zarr (together less than "
        f"{format_bytes(copies * toy.nbytes)}, {copies} x their padded size), and "
        f"a plot. `showerdata demo --clean` removes them."
    )


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size if path.exists() else 0


def written_report(directory: Path) -> str:
    """What the demo left in ``directory``, file by file, and the total."""
    present = [directory / name for name in DEMO_FILES if (directory / name).exists()]
    sizes = {path.name: _size(path) for path in present}
    lines = [
        f"wrote {format_bytes(sum(sizes.values()))} into {directory.resolve()}:",
        *(f"  {name:<20} {format_bytes(size):>10}" for name, size in sizes.items()),
        "remove them with: showerdata demo --clean"
        + ("" if directory.name == "demo-output" else f" --output {directory}"),
    ]
    return "\n".join(lines)


def clean_demo(output: str | os.PathLike[str] = "demo-output") -> int:
    """Remove what :func:`run_demo` wrote into ``output``; the bytes freed.

    Only the demo's own files (``DEMO_FILES``) are removed; the directory too
    if that leaves it empty.
    """
    directory = Path(output)
    freed = 0
    for name in DEMO_FILES:
        path = directory / name
        if path.exists():
            freed += _size(path)
            remove(str(path))
    if directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
    print(f"removed {format_bytes(freed)} of demo files from {directory.resolve()}")
    return freed
