"""Filtering points by a cylinder and energy thresholds (0.7's module path)."""

from __future__ import annotations

import os

from .detector import get_ILD_geometry, get_ILD_unclustered_geometry
from .io.api import load, load_metadata, save
from .legacy_cli import add_filter_arguments as add_parser_arguments
from .legacy_cli import parse_filter_arguments as parse_arguments
from .legacy_cli import run_filter as main
from .ops.filtering import filter_showers

__all__ = [
    "add_parser_arguments",
    "filter_file",
    "filter_showers",
    "get_detector_thresholds",
    "main",
    "parse_arguments",
]


def filter_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    radius: float = float("inf"),
    ecal_threshold: float = 0.0,
    hcal_threshold: float = 0.0,
    num_layers_ecal: int = 30,
    overwrite: bool = False,
    batch_size: int = 1000,
    verbose: bool = False,
) -> None:
    """Filter every shower of a file into a new file, streaming chunk by chunk.

    Parameters
    ----------
    input_path, output_path : str or os.PathLike
        Source and destination files.
    radius, ecal_threshold, hcal_threshold, num_layers_ecal
        As for :func:`filter_showers` (thresholds in GeV).
    overwrite : bool
        Replace an existing output file.
    batch_size : int
        Kept for compatibility with 0.7; chunking follows ``load``.
    verbose : bool
        Show a progress bar.
    """
    if os.path.exists(output_path) and not overwrite:
        raise FileExistsError(f"Output file '{os.fspath(output_path)}' already exists.")
    filtered = filter_showers(
        load(input_path), radius, ecal_threshold, hcal_threshold, num_layers_ecal
    )
    save(filtered, output_path, overwrite=overwrite, progress=verbose)


def get_detector_thresholds(path: str | os.PathLike[str]) -> tuple[float, float, int]:
    """ECAL and HCAL thresholds [GeV] and ECAL layers of the file's detector.

    The detector is named by the file's ``clustered_for`` attribute (default
    ILD unclustered); unknown detectors give ``(0.0, 0.0, 0)``.
    """
    name = load_metadata(path).get("clustered_for", "ILD_unclustered")
    geometries = {
        "ILD": get_ILD_geometry,
        "ILD_unclustered": get_ILD_unclustered_geometry,
    }
    if name not in geometries:
        return 0.0, 0.0, 0
    geometry = geometries[name]()
    return (
        geometry.ecal_threshold / 1e3,
        geometry.hcal_threshold / 1e3,
        geometry.num_layers_ecal,
    )


if __name__ == "__main__":
    main(parse_arguments())
