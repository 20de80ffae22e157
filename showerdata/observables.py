"""Observables: computed from showers, added to and read from shower files.

The ``calc_*`` functions keep the form of their input (lazy or in memory);
``add_observables_to_file`` streams a whole file chunk by chunk.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .detector import DetectorGeometry, get_ILD_geometry, get_ILD_unclustered_geometry
from .errors import MissingDataError
from .io import api as file_api
from .io.backends import backend_for
from .io.files import opened
from .io.lazy import (
    read_points_header,
    read_selection,
    require_numeric_dataset,
    rows_selection,
)
from .ops.observables import (
    OBSERVABLE_NAMES,
    calc_center_of_energy,
    calc_energy_per_layer,
    calc_energy_per_radial_bin,
    calc_num_points_per_layer,
    calc_observables,
    check_geometry,
)
from .streaming import store_blocks

PathLike = str | os.PathLike[str]

__all__ = [
    "ObservableInfo",
    "add_observables_to_file",
    "calc_center_of_energy",
    "calc_energy_per_layer",
    "calc_energy_per_radial_bin",
    "calc_num_points_per_layer",
    "calc_observables",
    "compute_threshold_mask",
    "load",
    "read_observables_from_file",
    "read_point_energies",
    "save",
    "save_observables_to_file",
]


@dataclass
class ObservableInfo:
    """What describes one stored observable (0.7's record of the same name).

    Parameters
    ----------
    key : str
        Dataset name under ``observables/``.
    shape : tuple of int
        Shape of the dataset.
    dtype : numpy dtype-like
        Type of the dataset.
    function : callable
        Computes the observable of a :class:`~showerdata.Showers`.
    """

    key: str
    shape: tuple[int, ...]
    dtype: npt.DTypeLike
    function: Callable[[Any], Any]


def compute_threshold_mask(
    showers: Any, detector_config: DetectorGeometry | None = None
) -> Any:
    """Which points pass the detector's hit thresholds, shape (N, P).

    Without a geometry: the real points (e > 0). With one: ECAL points (layer
    below ``num_layers_ecal - 0.5``) above ``ecal_threshold``, HCAL points
    above ``hcal_threshold`` (thresholds in MeV, energies in GeV), as in 0.7.
    Lazy showers give a lazy mask.

    Parameters
    ----------
    showers : Showers
        Showers, lazy or in memory.
    detector_config : DetectorGeometry, optional
        Layers and thresholds.

    Returns
    -------
    array of bool, shape (N, P)
        The mask, numpy or dask like ``showers``.
    """
    energy = showers.points[..., 3]
    if detector_config is None:
        return energy > 0
    layer = showers.points[..., 2]
    boundary = detector_config.num_layers_ecal - 0.5
    ecal = (layer < boundary) & (energy > detector_config.ecal_threshold / 1e3)
    hcal = (layer >= boundary) & (energy > detector_config.hcal_threshold / 1e3)
    return ecal | hcal


def geometry_of_file(
    path: PathLike, detector_config: DetectorGeometry | None = None
) -> DetectorGeometry:
    """The geometry for the observables of a file.

    Without ``detector_config``: the one its ``clustered_for`` attribute names
    (0.7's rule: ``"ILD"``, or none for the unclustered ILD geometry). An
    explicit ``detector_config`` must agree with ``clustered_for`` if the
    file has it; a file without it may hold anything (0.7's ``save`` of
    clustered showers did not record it), so any geometry is taken.

    Raises
    ------
    ShowerDataError
        ``detector_config`` is not the geometry the file is clustered for
        (naming the file and both geometries).
    ValueError
        ``clustered_for`` names a geometry we do not know and no
        ``detector_config`` is given.
    """
    clustered_for = str(file_api.load_metadata(path).get("clustered_for", ""))
    name = path if isinstance(path, str) else os.fspath(path)
    if detector_config is not None:
        check_geometry(clustered_for, detector_config, path=name)
        return detector_config
    if clustered_for == "ILD":
        return get_ILD_geometry()
    if clustered_for == "":
        return get_ILD_unclustered_geometry()
    raise ValueError(
        f"Unknown 'clustered_for' attribute value: {clustered_for} (file "
        f"'{name}'; pass detector_config)"
    )


def add_observables_to_file(
    path: PathLike,
    batch_size: int = 1000,
    overwrite: bool = False,
    detector_config: DetectorGeometry | None = None,
) -> None:
    """Compute the observables of every shower of a file and store them in it.

    Writes the ``observables`` group (num_points_per_layer, energy_per_layer,
    energy_per_radial_bin, center_of_energy) and the attribute
    ``observables_computed_for``. The file is read lazily, chunk by chunk; the
    observables are streamed to a side file first and moved in when complete,
    so a failure leaves the file as it was.

    Parameters
    ----------
    path : str or os.PathLike
        Shower file: HDF5, or a zarr store.
    batch_size : int
        Kept for compatibility with 0.7; chunking follows ``load``.
    overwrite : bool
        Replace existing observables; otherwise raise :class:`ValueError`.
    detector_config : DetectorGeometry, optional
        Thresholds and layers; default: the geometry the file's
        ``clustered_for`` attribute names (written by ``save`` of clustered
        showers), else the unclustered ILD geometry.

    Raises
    ------
    ShowerDataError
        ``detector_config`` differs from the file's ``clustered_for``.

    Examples
    --------
    >>> import showerdata
    >>> from showerdata.observables import add_observables_to_file
    >>> clustered = showerdata.cluster(showerdata.load("production.h5"), seed=1)
    >>> showerdata.save(clustered, "clustered.zarr")
    >>> add_observables_to_file("clustered.zarr")  # the ILD geometry, from attrs
    >>> showerdata.load_metadata("clustered.zarr")["observables_computed_for"]
    'ILD'
    >>> values = showerdata.observables.read_observables_from_file("clustered.zarr")
    >>> values["energy_per_layer"].shape
    (1000, 78)
    """
    path = os.fspath(path)
    file_api.get_file_shape(path)  # a clear error for files without showers
    geometry = geometry_of_file(path, detector_config)
    with opened(path) as file:
        exists = "observables" in file
    if exists and not overwrite:
        raise ValueError(
            f"File {path} already contains an 'observables' group. Use overwrite "
            "option to replace it."
        )
    values = calc_observables(file_api.load(path), geometry)
    file_api.save_group(
        path, "observables", values, {"observables_computed_for": geometry.name}
    )


def save_observables_to_file(
    path: PathLike, observables: dict[str, Any], overwrite: bool = False
) -> None:
    """Store arrays (numpy or dask) in the ``observables`` group of a file.

    Parameters
    ----------
    path : str or os.PathLike
        Shower file, HDF5 or zarr (an HDF5 file is created if missing).
    observables : dict of str to array
        Arrays to store, one dataset each.
    overwrite : bool
        Replace datasets that exist; otherwise raise :class:`ValueError`.
    """
    path = os.fspath(path)
    fmt = backend_for(path)
    if not os.path.exists(path):
        with fmt.new_file(path, overwrite=False):
            pass
    with fmt.existing_file(path) as file:
        group = file.require_group("observables")
        for key, data in observables.items():
            if key in group:
                if not overwrite:
                    raise ValueError(
                        f"Observable '{key}' already exists in file '{path}'."
                    )
                del group[key]
            dataset = fmt.create_dataset(group, key, data.shape, data.dtype)
            store_blocks({key: data}, {key: dataset})


#: What :func:`read_observables_from_file` reads by default, and from where.
STORED = {
    **{name: f"observables/{name}" for name in OBSERVABLE_NAMES},
    "total_energy": None,
    "total_num_points": None,
    "incident_energies": "energies",
    "incident_pdg": "pdg",
    "incident_directions": "directions",
    "shower_ids": "shower_ids",
}


def read_observables_from_file(
    path: PathLike,
    observables: list[str] | None = None,
    start: int = 0,
    stop: int | None = None,
) -> dict[str, np.ndarray]:
    """Read observables of showers ``start:stop`` as numpy arrays.

    Default keys: the four stored observables, ``total_energy`` and
    ``total_num_points`` (summed over layers), ``incident_energies``,
    ``incident_pdg``, ``incident_directions`` and ``shower_ids``; keys the file
    does not have are left out unless asked for explicitly.

    Raises
    ------
    ValueError
        An explicitly requested observable is not in the file.
    """
    path = os.fspath(path)
    with opened(path) as file:
        return _read_observables(file, path, observables, start, stop)


def _read_observables(
    file: Any, path: str, observables: list[str] | None, start: int, stop: int | None
) -> dict[str, np.ndarray]:
    wanted = list(STORED) if observables is None else list(observables)
    length = file["energies"].shape[0] if "energies" in file else 0
    rows = rows_selection(path, length, start, stop)
    results: dict[str, np.ndarray] = {}
    for key in wanted:
        dataset = STORED.get(key, f"observables/{key}")  # own keys too
        if dataset is not None and dataset in file:
            results[key] = require_numeric_dataset(file, dataset, path)[rows]
    for key in wanted:
        if key.startswith("total_"):
            per_layer = key.removeprefix("total_") + "_per_layer"
            name = f"observables/{per_layer}"
            if per_layer in results:
                results[key] = results[per_layer].sum(axis=1)
            elif name in file:
                results[key] = require_numeric_dataset(file, name, path)[rows].sum(1)
    if observables is not None:
        missing = [key for key in wanted if key not in results]
        if missing:
            raise ValueError(f"Observable '{missing[0]}' not found in file '{path}'.")
    return results


def read_point_energies(
    path: PathLike, start: int = 0, stop: int | None = None
) -> npt.NDArray[np.float32]:
    """Energies of all points of showers ``start:stop``, concatenated (1-D)."""
    path = os.fspath(path)
    try:
        header = read_points_header(path)
    except MissingDataError as error:
        raise ValueError(f"{path} is not a valid shower data file: {error}") from None
    rows = rows_selection(path, header.num_showers, start, stop)
    with opened(path) as file:
        points = read_selection(path, file, header.rows, rows)
        if header.dense:
            counts = read_selection(path, file, header.num_points, rows)
    if header.dense:
        real = np.arange(header.max_points) < counts[:, None]
        return points[real][:, 3].astype(np.float32)
    data = points
    if len(data) == 0:
        return np.empty(0, dtype=np.float32)
    flat = np.concatenate(data).astype(np.float32, copy=False)
    return flat.reshape(-1, header.num_features)[:, 3].copy()


save = save_observables_to_file
"""Alias of :func:`save_observables_to_file`, as in showerdata 0.7."""

load = read_observables_from_file
"""Alias of :func:`read_observables_from_file`, as in showerdata 0.7."""
