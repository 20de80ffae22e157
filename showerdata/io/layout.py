"""Names of the datasets of the showerdata 0.7 layout (shared by all formats)."""

from __future__ import annotations

from dataclasses import dataclass


def points_dataset_names(key: str) -> tuple[str, str, str]:
    """Names of (rows, shape, num_points) for ``"showers"`` or a target key."""
    if key == "showers":
        return "showers", "shape", "num_points"
    return f"{key}/point_clouds", f"{key}/shape", f"{key}/num_points"


#: dtype and trailing shape of each per-shower dataset, as 0.7 writes them.
PER_SHOWER: dict[str, tuple[str, tuple[int, ...]]] = {
    "energies": ("float32", (1,)),
    "directions": ("float32", (3,)),
    "pdg": ("int32", ()),
    "shower_ids": ("int32", ()),
    "num_points": ("int32", ()),
}
#: The datasets of a file holding only incident particles.
PARTICLE_FIELDS = ("energies", "directions", "pdg")


@dataclass(frozen=True)
class PointsHeader:
    """What a file says about one padded point-cloud dataset (checked on opening)."""

    path: str
    rows: str  # vlen rows of flattened points (HDF5) or dense padded points (zarr)
    num_points: str  # its num_points dataset
    num_showers: int
    max_points: int
    num_features: int
    dense: bool = False  # True for zarr
