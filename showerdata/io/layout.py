"""Names of the datasets of the showerdata 0.7 layout (shared by all formats)."""

from __future__ import annotations


def points_dataset_names(key: str) -> tuple[str, str, str]:
    """Names of (rows, shape, num_points) for ``"showers"`` or a target key."""
    if key == "showers":
        return "showers", "shape", "num_points"
    return f"{key}/point_clouds", f"{key}/shape", f"{key}/num_points"
