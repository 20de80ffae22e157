"""Shifting showers to undo incident-angle effects (0.7's module path)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import numpy.typing as npt

from .legacy_cli import add_shift_arguments as add_parser_args
from .legacy_cli import parse_shift_arguments as parse_args
from .legacy_cli import run_shift as main

__all__ = ["add_parser_args", "main", "parse_args", "process_files", "shift_layers"]


def shift_layers(
    shower: npt.ArrayLike,
    direction: npt.ArrayLike,
    layer_bottom_pos: npt.ArrayLike,
    calo_surface: float,
    inverse: bool,
) -> npt.NDArray[np.float32]:
    """Shift the layers of one shower along its incident direction.

    Parameters
    ----------
    shower : array_like, shape (P, F)
        Points of one shower, real points first.
    direction : array_like, shape (3,)
        Incident direction.
    layer_bottom_pos : array_like
        Position of each layer [mm].
    calo_surface : float
        Position of the calorimeter surface [mm].
    inverse : bool
        Add the displacement back instead of removing it.

    Returns
    -------
    ndarray, shape (P, F), float32
        The shifted shower; real points as 0.7's, padding left zero.
    """
    from .kernels.shifting import shift_points

    points = np.asarray(shower, dtype=np.float32)[None]
    directions = np.asarray(direction, dtype=np.float32).reshape(1, 3)
    return shift_points(
        points, directions, layer_bottom_pos, calo_surface, inverse=bool(inverse)
    )[0]


def process_files(
    input_file: str | os.PathLike[str],
    output_file: str | os.PathLike[str],
    layer_bottom_pos: npt.ArrayLike,
    calo_surface: float,
    inverse: bool,
    batch_size: int = 10000,
    verbose: bool = False,
) -> None:
    """Shift every shower of ``input_file`` into ``output_file`` (replaced).

    Streams chunk by chunk; ``batch_size`` is kept for 0.7's signature (chunks
    follow ``showerdata.chunk-bytes``), ``verbose`` shows a progress bar.
    """
    from .detector import get_ILD_geometry
    from .io.api import load, save
    from .ops.shifting import shift

    geometry = dataclasses.replace(
        get_ILD_geometry(),
        layer_bottom_pos=tuple(float(v) for v in np.asarray(layer_bottom_pos)),
        calo_surface=float(calo_surface),
    )
    shifted = shift(load(input_file), inverse=inverse, detector_config=geometry)
    save(shifted, output_file, overwrite=True, progress=verbose)


if __name__ == "__main__":
    main(parse_args())
