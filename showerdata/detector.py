"""Simplified calorimeter geometries used by clustering, observables and shifting.

A :class:`DetectorGeometry` only holds what the processing steps need: how
many layers there are and which of them belong to the ECAL, where each layer
sits, how large the readout cells are and which hit-energy thresholds the
readout applies.  The field names and values match showerdata 0.7, so
geometries can be compared with (and stored as the same metadata as) files
written by 0.7.

Units: lengths in mm, thresholds in **MeV** (hit energies in shower data are
in GeV; the processing functions convert).
"""

from __future__ import annotations

import dataclasses
import math
import numbers

__all__ = [
    "DetectorGeometry",
    "get_ILD_geometry",
    "get_ILD_unclustered_geometry",
    "get_test_geometry",
]


@dataclasses.dataclass(frozen=True, eq=True, repr=False)
class DetectorGeometry:
    """Layer structure, cell sizes and thresholds of a sampling calorimeter.

    Layers are numbered from the calorimeter front, ECAL layers first:
    ``0 .. num_layers_ecal - 1`` are ECAL, the remaining ones HCAL.

    Parameters
    ----------
    calo_surface : float
        Distance of the calorimeter front face from the interaction point [mm].
    num_layers : int
        Total number of layers.
    num_layers_ecal : int
        Number of ECAL layers.
    num_layers_hcal : int
        Number of HCAL layers.
    layer_thickness_ecal : float
        Thickness of an ECAL (sensitive) layer [mm].
    layer_thickness_hcal : float
        Thickness of an HCAL (sensitive) layer [mm].
    ecal_cell_size : float
        Edge length of the square ECAL readout cells [mm]; 0 means "no cells"
        (unclustered data).
    hcal_cell_size : float
        Edge length of the square HCAL readout cells [mm]; 0 means "no cells".
    layer_bottom_pos : tuple of float
        Distance of the bottom of each layer from the interaction point [mm],
        one entry per layer.  Any sequence is accepted and stored as a tuple of
        floats so that geometries stay hashable.
    ecal_threshold : float, optional
        Readout threshold of the ECAL cells [MeV].  Default 0.
    hcal_threshold : float, optional
        Readout threshold of the HCAL cells [MeV].  Default 0.
    name : str, optional
        Short name, shown by ``repr`` and stored in file metadata.

    Raises
    ------
    TypeError
        If a field has the wrong type.
    ValueError
        If the layer counts are inconsistent, or a size or threshold is
        negative or not finite.
    """

    calo_surface: float
    num_layers: int
    num_layers_ecal: int
    num_layers_hcal: int
    layer_thickness_ecal: float
    layer_thickness_hcal: float
    ecal_cell_size: float
    hcal_cell_size: float
    layer_bottom_pos: tuple[float, ...]
    ecal_threshold: float = 0.0
    hcal_threshold: float = 0.0
    name: str = "Detector"

    def __post_init__(self) -> None:
        for field in ("num_layers", "num_layers_ecal", "num_layers_hcal"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{field} must be an integer, got {value!r}")
            if value < 0:
                raise ValueError(f"{field} must be >= 0, got {value}")
            # Normalise numpy integers so that equal geometries hash equally.
            object.__setattr__(self, field, int(value))
        if self.num_layers_ecal + self.num_layers_hcal != self.num_layers:
            raise ValueError(
                f"num_layers_ecal ({self.num_layers_ecal}) + num_layers_hcal "
                f"({self.num_layers_hcal}) must equal num_layers ({self.num_layers})"
            )
        for field in (
            "calo_surface",
            "layer_thickness_ecal",
            "layer_thickness_hcal",
            "ecal_cell_size",
            "hcal_cell_size",
            "ecal_threshold",
            "hcal_threshold",
        ):
            object.__setattr__(self, field, _finite_float(field, getattr(self, field)))
        for field in ("ecal_cell_size", "hcal_cell_size"):
            if getattr(self, field) < 0:
                raise ValueError(f"{field} must be >= 0, got {getattr(self, field)}")
        try:
            positions = tuple(
                _finite_float("layer_bottom_pos", p) for p in self.layer_bottom_pos
            )
        except TypeError:
            raise TypeError(
                "layer_bottom_pos must be a sequence of numbers, got "
                f"{self.layer_bottom_pos!r}"
            ) from None
        if len(positions) != self.num_layers:
            raise ValueError(
                f"layer_bottom_pos has {len(positions)} entries, expected one per "
                f"layer ({self.num_layers})"
            )
        object.__setattr__(self, "layer_bottom_pos", positions)
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {self.name!r}")

    def __repr__(self) -> str:
        return f"Geometry({self.name})"


def _finite_float(field: str, value: object) -> float:
    """Return ``value`` as a finite Python float or raise a descriptive error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{field} must be a real number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{field} must be finite, got {result}")
    return result


# Bottom positions [mm] of the 30 ECAL and 48 HCAL layers of the ILD barrel
# calorimeter as used by showerdata 0.7.  The ECAL alternates between two
# sensor positions per tungsten slab, the HCAL has a constant 26.5 mm pitch.
_ILD_LAYER_BOTTOM_POS = (
    1811.34, 1814.46, 1823.81, 1826.94, 1836.28, 1839.41, 1848.75, 1851.88,
    1861.22, 1864.34, 1873.69, 1876.81, 1886.16, 1889.29, 1898.63, 1901.76,
    1911.1, 1914.22, 1923.57, 1926.69, 1938.14, 1943.36, 1954.81, 1960.04,
    1971.48, 1976.7, 1988.15, 1993.38, 2004.82, 2010.05,
) + tuple(2081.0 + 26.5 * i for i in range(48))  # fmt: skip


def get_ILD_geometry() -> DetectorGeometry:
    """Return the simplified ILD geometry (5 mm ECAL / 30 mm HCAL cells).

    Returns
    -------
    DetectorGeometry
        Geometry named ``"ILD"`` with 30 ECAL and 48 HCAL layers and readout
        thresholds of 0.1 MeV (ECAL) and 0.25 MeV (HCAL).
    """
    return DetectorGeometry(
        calo_surface=1804.0,
        num_layers=78,
        num_layers_ecal=30,
        num_layers_hcal=48,
        layer_thickness_ecal=0.525,
        layer_thickness_hcal=1.2,
        ecal_cell_size=5.0,
        hcal_cell_size=30.0,
        layer_bottom_pos=_ILD_LAYER_BOTTOM_POS,
        ecal_threshold=0.1,
        hcal_threshold=0.25,
        name="ILD",
    )


def get_ILD_unclustered_geometry() -> DetectorGeometry:
    """Return the ILD geometry for unclustered (simulation-level) hits.

    Identical to :func:`get_ILD_geometry` except that there are no readout
    cells (cell sizes 0) and no thresholds.

    Returns
    -------
    DetectorGeometry
        Geometry named ``"ILD_unclustered"``.
    """
    return dataclasses.replace(
        get_ILD_geometry(),
        ecal_cell_size=0.0,
        hcal_cell_size=0.0,
        ecal_threshold=0.0,
        hcal_threshold=0.0,
        name="ILD_unclustered",
    )


def get_test_geometry(num_layers: int, threshold: float = 0.0) -> DetectorGeometry:
    """Return a small ECAL-only geometry for tests.

    Parameters
    ----------
    num_layers : int
        Number of layers; all of them are ECAL layers.  Layer ``i`` sits at
        ``100 + i`` mm, directly behind the calorimeter surface at 100 mm.
    threshold : float, optional
        Readout threshold [MeV] for both calorimeter parts.  Default 0.

    Returns
    -------
    DetectorGeometry
        Geometry named ``"TestDetector"`` with 10 mm cells.
    """
    return DetectorGeometry(
        calo_surface=100.0,
        num_layers=num_layers,
        num_layers_ecal=num_layers,
        num_layers_hcal=0,
        layer_thickness_ecal=1.0,
        layer_thickness_hcal=1.0,
        ecal_cell_size=10.0,
        hcal_cell_size=10.0,
        layer_bottom_pos=tuple(100.0 + i for i in range(num_layers)),
        ecal_threshold=threshold,
        hcal_threshold=threshold,
        name="TestDetector",
    )
