"""Observables of productions side by side, as one PNG (``showerdata plot``).

Each production is reduced lazily, chunk by chunk, to what the panels need:
mean energy per layer and per radial bin, and four numbers per shower (points,
visible and incident energy, centre of energy). Memory therefore stays at a
few chunks plus 24 bytes per shower, whatever the size of the files.

matplotlib is an optional dependency (``pip install 'showerdata[plots]'``); it
is imported only when a plot is made.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .execution import Execution
from .graphs import compute
from .replacing import replacing

__all__ = ["MissingDependencyError", "ProductionSummary", "plot_productions"]

#: Showers per production drawn in the scatter of visible vs incident energy.
SCATTER_SHOWERS = 3000


class MissingDependencyError(ImportError):
    """An optional dependency a command needs is not installed."""


@dataclass
class ProductionSummary:
    """What the panels show of one production (numpy arrays)."""

    label: str
    energy_per_layer: np.ndarray  # mean over showers, GeV, (L,)
    energy_per_radial_bin: np.ndarray  # mean over showers, GeV, (bins,)
    radial_bin_edges: np.ndarray  # mm, (bins + 1,)
    num_points: np.ndarray  # per shower
    visible_energy: np.ndarray  # per shower, GeV
    incident_energy: np.ndarray  # per shower, GeV
    center_of_energy: np.ndarray  # per shower, (n, 3)


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError(
            "plotting needs matplotlib: pip install 'showerdata[plots]'"
        ) from None
    return Figure


def summarize(
    path: str, run: Execution, label: str, max_showers: int | None = None
) -> ProductionSummary:
    """Reduce one production to a :class:`ProductionSummary`, chunk by chunk.

    The observables use the detector the file names (its ``clustered_for``
    attribute), as ``add-observables`` does.
    """
    from .io.api import get_file_shape
    from .kernels.observables import DEFAULT_RADIAL_BIN_EDGES
    from .observables import calc_observables, geometry_of_file

    count = get_file_shape(path)[0]
    if max_showers is not None:
        if max_showers < 1:
            raise ValueError(f"--max-showers must be at least 1, got {max_showers}.")
        count = min(count, max_showers)
    showers = run.load(path, 0, count)
    geometry = geometry_of_file(path)
    values = calc_observables(showers, geometry)
    with run.task_progress(f"plot {os.path.basename(path)}"):
        layers, radial, points, visible, incident, centre = compute(
            values["energy_per_layer"].mean(axis=0),
            values["energy_per_radial_bin"].mean(axis=0),
            showers.num_points,
            values["energy_per_layer"].sum(axis=1),
            showers.energies[:, 0],
            values["center_of_energy"],
        )
    return ProductionSummary(
        label=label,
        energy_per_layer=np.asarray(layers),
        energy_per_radial_bin=np.asarray(radial),
        radial_bin_edges=np.asarray(DEFAULT_RADIAL_BIN_EDGES),
        num_points=np.asarray(points),
        visible_energy=np.asarray(visible),
        incident_energy=np.asarray(incident),
        center_of_energy=np.asarray(centre),
    )


def _shared_bins(samples: Sequence[np.ndarray], bins: int = 50) -> np.ndarray:
    """Common histogram edges for all productions, ignoring the extreme 0.1%."""
    finite = [s[np.isfinite(s)] for s in samples]
    finite = [s for s in finite if s.size]
    if not finite:
        return np.linspace(0.0, 1.0, bins + 1)
    low = min(float(np.percentile(s, 0.1)) for s in finite)
    high = max(float(np.percentile(s, 99.9)) for s in finite)
    if not high > low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def _histograms(axis: Any, summaries: list[ProductionSummary], values: list) -> None:
    edges = _shared_bins(values)
    for summary, sample in zip(summaries, values, strict=True):
        axis.hist(
            sample[np.isfinite(sample)],
            bins=edges,
            histtype="step",
            density=True,
            label=summary.label,
        )


def draw(summaries: list[ProductionSummary], output: str) -> None:
    """Draw the panels and write them as a PNG at ``output`` (all or nothing)."""
    figure = _figure_class()(figsize=(20, 9), layout="constrained")
    axes = figure.subplots(2, 4)
    rng = np.random.default_rng(0)  # which showers the scatter shows

    ax = axes[0, 0]
    for s in summaries:
        ax.step(np.arange(len(s.energy_per_layer)), s.energy_per_layer * 1e3, "-",
                where="mid", label=s.label)  # fmt: skip
    ax.set(xlabel="layer", ylabel="mean energy per layer [MeV]", yscale="log")

    ax = axes[0, 1]
    for s in summaries:
        centres = 0.5 * (s.radial_bin_edges[1:] + s.radial_bin_edges[:-1])
        ax.step(centres, s.energy_per_radial_bin * 1e3, where="mid", label=s.label)
    ax.set(xlabel="radius [mm]", ylabel="mean energy per bin [MeV]", yscale="log")

    ax = axes[0, 2]
    _histograms(ax, summaries, [s.num_points.astype(float) for s in summaries])
    ax.set(xlabel="points per shower", ylabel="showers (normalised)")

    ax = axes[0, 3]
    for s in summaries:
        shown = rng.permutation(len(s.visible_energy))[:SCATTER_SHOWERS]
        ax.scatter(s.incident_energy[shown], s.visible_energy[shown], s=3,
                   alpha=0.4, label=s.label)  # fmt: skip
    ax.set(xlabel="incident energy [GeV]", ylabel="visible energy [GeV]")

    ax = axes[1, 0]
    ratios = []
    for s in summaries:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios.append(s.visible_energy / s.incident_energy)
    _histograms(ax, summaries, ratios)
    ax.set(xlabel="visible / incident energy", ylabel="showers (normalised)")

    for column, name in enumerate(("x [mm]", "y [mm]", "z [layer]"), start=1):
        ax = axes[1, column]
        _histograms(
            ax, summaries, [s.center_of_energy[:, column - 1] for s in summaries]
        )
        ax.set(xlabel=f"centre of energy {name}", ylabel="showers (normalised)")

    for ax in axes.flat:
        ax.legend(fontsize="small")
    _save_png(figure, output)


def _save_png(figure: Any, output: str) -> None:
    with replacing(output) as partial:
        figure.savefig(partial, format="png", dpi=90)


def plot_productions(
    inputs: Sequence[str],
    output: str,
    run: Execution,
    labels: Sequence[str] | None = None,
    max_showers: int | None = None,
) -> int:
    """Plot the observables of each input side by side into the PNG ``output``.

    Parameters
    ----------
    inputs : sequence of str
        Shower files (HDF5 or zarr).
    output : str
        PNG file to write; it appears only when complete.
    run : Execution
        Where the reductions run (see :func:`showerdata.execution.execution`).
    labels : sequence of str, optional
        Legend labels, one per input; default: the file names.
    max_showers : int, optional
        Use the first ``max_showers`` showers of each input.

    Returns
    -------
    int
        Number of showers summarised.

    Raises
    ------
    MissingDependencyError
        matplotlib is not installed (checked before any work).
    """
    _figure_class()
    names = labels or [os.path.basename(p.rstrip("/")) for p in inputs]
    summaries = [
        summarize(path, run, label, max_showers)
        for path, label in zip(inputs, names, strict=True)
    ]
    draw(summaries, output)
    return sum(len(s.num_points) for s in summaries)
