"""Processing block functions: parity with showerdata 0.7.0 and invariants.

The 0.7 reference outputs live in ``tests/fixtures/v07_processing/`` and are
written by ``tests/fixtures/make_processing_reference_v07.py`` (run with a
0.7.0 install); 0.7 itself is never imported here.

Every parity check is exact: the kernels reproduce 0.7's float32 arithmetic
*and* its summation order (np.add.at sums in point order, np.sum over a
contiguous row sums pairwise), so not even the energy sums differ.  Where a
tolerance is used below, the comparison is against a different summation
order on purpose (e.g. energy conservation under random grid shifts).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from showerdata.detector import (
    DetectorGeometry,
    get_ILD_geometry,
    get_ILD_unclustered_geometry,
    get_test_geometry,
)
from showerdata.kernels.clustering import cluster_points, grid_shifts
from showerdata.kernels.filtering import filter_points
from showerdata.kernels.observables import (
    _pairwise_sum,
    center_of_energy,
    energy_per_layer,
    energy_per_radial_bin,
    num_points_per_layer,
    observables,
)
from showerdata.kernels.shifting import shift_points

FIXTURES = Path(__file__).parent / "fixtures" / "v07_processing"
NUM_LAYERS = 78
ILD = get_ILD_geometry()


@pytest.fixture(scope="module")
def reference() -> dict[str, dict[str, np.ndarray]]:
    return {
        name: dict(np.load(FIXTURES / f"{name}.npz"))
        for name in ("input", "filter", "cluster", "observables", "shift")
    }


@pytest.fixture(scope="module")
def points(reference) -> np.ndarray:
    return reference["input"]["points"]


@pytest.fixture(scope="module")
def directions(reference) -> np.ndarray:
    return reference["input"]["directions"]


def _layer_of(points: np.ndarray) -> np.ndarray:
    return (points[..., 2] + np.float32(0.1)).astype(np.int64)


# ---------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------


def test_geometries_equal_v07() -> None:
    expected = json.loads((FIXTURES / "geometry.json").read_text())
    geometries = {
        "ild": get_ILD_geometry(),
        "ild_unclustered": get_ILD_unclustered_geometry(),
        "test_5_0.3": get_test_geometry(5, threshold=0.3),
    }
    for name, geometry in geometries.items():
        fields = dataclasses.asdict(geometry)
        fields["layer_bottom_pos"] = list(fields["layer_bottom_pos"])
        assert fields == expected[name]["fields"], name
        assert repr(geometry) == expected[name]["repr"]


def test_geometry_is_frozen_hashable_and_validated() -> None:
    assert hash(get_ILD_geometry()) == hash(ILD)
    assert get_ILD_geometry() == ILD
    with pytest.raises(dataclasses.FrozenInstanceError):
        ILD.num_layers = 3  # type: ignore[misc]
    fields = dataclasses.asdict(ILD)
    with pytest.raises(ValueError, match="one per layer"):
        DetectorGeometry(**{**fields, "layer_bottom_pos": (1.0, 2.0)})
    with pytest.raises(ValueError, match="must equal num_layers"):
        DetectorGeometry(**{**fields, "num_layers_hcal": 40})
    with pytest.raises(TypeError, match="ecal_cell_size"):
        DetectorGeometry(**{**fields, "ecal_cell_size": "5"})


# ---------------------------------------------------------------------------
# Filter
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["ild", "loose"])
@pytest.mark.parametrize("num_features", [5, 4])
def test_filter_matches_v07(reference, points, case, num_features) -> None:
    ref = reference["filter"]
    result = filter_points(
        points[..., :num_features],
        radius=float(ref[f"{case}_radius"]),
        ecal_threshold=float(ref[f"{case}_ecal_threshold"]),
        hcal_threshold=float(ref[f"{case}_hcal_threshold"]),
        num_layers_ecal=int(ref[f"{case}_num_layers_ecal"]),
    )
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, ref[case][..., :num_features])


def test_filter_boundaries(points) -> None:
    # The toy's shower 2 carries a point at r == 200 exactly and points with
    # energies equal to the float32 thresholds (kept: the cut is e >= thr).
    out = filter_points(points[2:3], radius=200.0, ecal_threshold=1e-4)
    kept = {tuple(p[:4]) for p in out[0] if p[3] != 0}
    assert (120.0, 160.0, 3.0, np.float32(1e-3)) not in kept
    assert (10.0, -5.0, 4.0, np.float32(1e-4)) in kept
    assert not filter_points(points, radius=0.0).any()
    np.testing.assert_array_equal(filter_points(points), points)


def test_filter_rejects_bad_parameters(points) -> None:
    with pytest.raises(ValueError, match="radius"):
        filter_points(points, radius=-1.0)
    with pytest.raises(ValueError, match="radius"):
        filter_points(points, radius=math.nan)
    with pytest.raises(TypeError, match="ecal_threshold"):
        filter_points(points, ecal_threshold="0.1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="hcal_threshold"):
        filter_points(points, hcal_threshold=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="num_layers_ecal"):
        filter_points(points, num_layers_ecal=29.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        filter_points(points[..., :3])


# ---------------------------------------------------------------------------
# Clustering
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, geometry", [("ild", ILD), ("test", get_test_geometry(NUM_LAYERS))]
)
@pytest.mark.parametrize("num_features", [5, 4])
def test_cluster_matches_v07(reference, points, case, geometry, num_features) -> None:
    no_shift = np.zeros((len(points), 2, 2), dtype=np.float32)
    result = cluster_points(points[..., :num_features], no_shift, geometry)
    # Exact, including the summed energies: points of a cell are summed in
    # their original order, as 0.7's np.add.at does.  Should that ever change,
    # only column 3 (energy) may get a float32 summation tolerance; positions,
    # layers, times and the order of the cells must stay exact.
    np.testing.assert_array_equal(
        result, reference["cluster"][case][..., :num_features]
    )


def _reference_cluster(
    points: np.ndarray, shifts: np.ndarray, geometry: DetectorGeometry
) -> np.ndarray:
    """Plain-numpy clustering, one shower and one cell at a time (slow)."""
    out = np.zeros_like(points)
    for i, shower in enumerate(points):
        real = shower[shower[:, 3] > 0]
        part = (real[:, 2] >= np.float32(geometry.num_layers_ecal - 0.5)).astype(int)
        cell = np.where(part == 0, geometry.ecal_cell_size, geometry.hcal_cell_size)
        cell = cell.astype(np.float32)
        ix = np.floor((real[:, 0] + shifts[i, part, 0]) / cell).astype(np.int64)
        iy = np.floor((real[:, 1] + shifts[i, part, 1]) / cell).astype(np.int64)
        layer = np.floor(real[:, 2]).astype(np.int64)
        cells = sorted(set(zip(part, layer, ix, iy, strict=True)))
        for k, (q, z, cx, cy) in enumerate(cells):
            members = (part == q) & (layer == z) & (ix == cx) & (iy == cy)
            c = np.float32(cell[members][0])
            out[i, k, 0] = (np.float32(cx) + np.float32(0.5)) * c - shifts[i, q, 0]
            out[i, k, 1] = (np.float32(cy) + np.float32(0.5)) * c - shifts[i, q, 1]
            out[i, k, 2] = z
            energy = np.float32(0)
            for e in real[members, 3]:  # in point order, like np.add.at
                energy += e
            out[i, k, 3] = energy
            if points.shape[2] > 4:
                out[i, k, 4] = real[members, 4].min()
    return out


def test_cluster_with_shifts_matches_a_plain_reference(points) -> None:
    shifts = grid_shifts(99, np.arange(len(points)), 5.0, 30.0)
    np.testing.assert_array_equal(
        cluster_points(points, shifts, ILD), _reference_cluster(points, shifts, ILD)
    )


def test_cluster_far_spread_points(points) -> None:
    # Cell numbers spanning ~2**31 in x and y overflow the packed int64 key;
    # the kernel then falls back to stable multi-pass sorting.
    far = points[1:3].copy()
    far[:, 10, :2] = (5e9, -5e9)
    far[:, 11, :2] = (-5e9, 5e9)
    far[:, 12, :2] = (5e9, -5e9)
    no_shift = np.zeros((2, 2, 2), dtype=np.float32)
    np.testing.assert_array_equal(
        cluster_points(far, no_shift, ILD), _reference_cluster(far, no_shift, ILD)
    )
    far[1, 0, 0] = 1e12  # beyond any representable cell number
    with pytest.raises(ValueError, match="shower 1:.*readout cell"):
        cluster_points(far, no_shift, ILD)


def test_cluster_is_independent_of_the_block_split(points) -> None:
    index = np.arange(100, 100 + len(points))
    shifts = grid_shifts(7, index, ILD.ecal_cell_size, ILD.hcal_cell_size)
    whole = cluster_points(points, shifts, ILD, shower_index=index)
    parts = [
        cluster_points(points[a:b], shifts[a:b], ILD, shower_index=index[a:b])
        for a, b in ((0, 1), (1, 17), (17, len(points)))
    ]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_cluster_with_random_shifts(points) -> None:
    shifts = grid_shifts(
        123, np.arange(len(points)), ILD.ecal_cell_size, ILD.hcal_cell_size
    )
    out = cluster_points(points, shifts, ILD)
    real_in = points[..., 3] > 0
    real_out = out[..., 3] > 0
    # Energy is conserved; the cell sums add the same numbers in another
    # grouping, so allow float32 rounding of a few hundred terms.
    np.testing.assert_allclose(
        out[..., 3].sum(axis=1, dtype=np.float64),
        np.where(real_in, points[..., 3], 0).sum(axis=1, dtype=np.float64),
        rtol=1e-5,
    )
    # Real points first, then zero padding; never more cells than points.
    assert np.all(real_out.sum(axis=1) <= real_in.sum(axis=1))
    for i in range(len(out)):
        k = real_out[i].sum()
        assert real_out[i, :k].all() and not out[i, k:].any()
    # Cell centres lie on the shifted grid: (x + s) / c - 1/2 is an integer.
    is_ecal = out[..., 2] < ILD.num_layers_ecal - 0.5
    for part, cell, mask in (
        (0, ILD.ecal_cell_size, is_ecal & real_out),
        (1, ILD.hcal_cell_size, ~is_ecal & real_out),
    ):
        shift = shifts[:, part, :][:, None, :]
        grid = (out[..., :2].astype(np.float64) + shift) / cell - 0.5
        offset = np.abs(grid - np.round(grid))[mask]
        assert offset.max() < 1e-3
    # Each cell is unique and cells are ordered ECAL first, then by
    # (layer, x cell, y cell); the time is the earliest in the cell.
    for i in range(len(out)):
        k = real_out[i].sum()
        part = (~is_ecal[i, :k]).astype(np.int64)
        cell = np.where(part == 0, ILD.ecal_cell_size, ILD.hcal_cell_size)
        ix = np.round((out[i, :k, 0] + shifts[i, part, 0]) / cell - 0.5)
        iy = np.round((out[i, :k, 1] + shifts[i, part, 1]) / cell - 0.5)
        keys = list(zip(part, out[i, :k, 2], ix, iy, strict=True))
        assert keys == sorted(set(keys))
    assert out[..., 4][real_out].min() >= points[..., 4][real_in].min()


def test_cluster_rejects_bad_input(points) -> None:
    no_shift = np.zeros((len(points), 2, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="no readout cells"):
        cluster_points(points, no_shift, get_ILD_unclustered_geometry())
    with pytest.raises(ValueError, match="shifts"):
        cluster_points(points, no_shift[:-1], ILD)
    with pytest.raises(TypeError, match="DetectorGeometry"):
        cluster_points(points, no_shift, "ILD")  # type: ignore[arg-type]
    bad = points.copy()
    bad[5, 0, 2] = NUM_LAYERS  # layer 78 of a 78-layer geometry
    with pytest.raises(ValueError, match="shower 1005"):
        cluster_points(bad, no_shift, ILD, shower_index=np.arange(1000, 1040))


def test_grid_shifts_are_counter_based() -> None:
    index = np.arange(5000, dtype=np.int64)
    shifts = grid_shifts(2024, index, 5.0, 30.0)
    assert shifts.shape == (5000, 2, 2) and shifts.dtype == np.float32
    np.testing.assert_array_equal(shifts, grid_shifts(2024, index, 5.0, 30.0))
    # Any split of the index range, in any order, gives the same shifts.
    pieces = [index[3000:], index[:7], index[7:3000]]
    np.testing.assert_array_equal(
        np.concatenate([grid_shifts(2024, p, 5.0, 30.0) for p in pieces]),
        shifts[np.concatenate(pieces)],
    )
    np.testing.assert_array_equal(
        grid_shifts(2024, index[::-1], 5.0, 30.0), shifts[::-1]
    )
    # Bounds [-c/2, c/2), roughly uniform, and independent components.
    for part, cell in ((0, 5.0), (1, 30.0)):
        values = shifts[:, part, :]
        assert values.min() >= -cell / 2 and values.max() < cell / 2
        assert abs(values.mean()) < 0.02 * cell
        assert abs(values.std() - cell / math.sqrt(12)) < 0.02 * cell
    assert (
        abs(np.corrcoef(shifts.reshape(5000, 4).T)[np.triu_indices(4, 1)]).max() < 0.05
    )
    assert not np.array_equal(shifts, grid_shifts(2025, index, 5.0, 30.0))
    assert not grid_shifts(1, index[:10], 0.0, 0.0).any()
    assert grid_shifts(1, np.zeros(0, dtype=np.int64), 5.0, 30.0).shape == (0, 2, 2)


def test_grid_shifts_stay_inside_the_half_open_cell() -> None:
    # Uniforms just below 1 round up to c/2 in float32 for some cell sizes.
    shifts = grid_shifts(0, np.arange(20000), 0.1, 1e-30)
    assert shifts[:, 0].max() < 0.05 and shifts[:, 0].min() >= -0.05
    assert shifts[:, 1].max() < 0.5e-30 and shifts[:, 1].min() >= -0.5e-30


def test_grid_shifts_reject_bad_parameters() -> None:
    with pytest.raises(TypeError, match="seed"):
        grid_shifts(1.5, np.arange(3), 5.0, 30.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ecal_cell_size"):
        grid_shifts(1, np.arange(3), -5.0, 30.0)
    with pytest.raises(TypeError, match="hcal_cell_size"):
        grid_shifts(1, np.arange(3), 5.0, "30")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shower_index"):
        grid_shifts(1, np.arange(3.0), 5.0, 30.0)


# ---------------------------------------------------------------------------
# Observables
# ---------------------------------------------------------------------------

OBSERVABLE_CASES = [
    ("none", None, False),
    ("ild", ILD, False),
    ("test", get_test_geometry(NUM_LAYERS, threshold=0.5), False),
    ("clustered_ild", ILD, True),
]


@pytest.mark.parametrize("case, geometry, clustered", OBSERVABLE_CASES)
def test_observables_match_v07(reference, points, case, geometry, clustered) -> None:
    data = reference["cluster"]["ild"] if clustered else points
    ref = {
        key.split("/", 1)[1]: value
        for key, value in reference["observables"].items()
        if key.startswith(case + "/")
    }
    # Exact: same float32 comparisons and the same summation order as 0.7.
    counts = num_points_per_layer(data, geometry, num_layers=NUM_LAYERS)
    assert counts.dtype == np.int32
    np.testing.assert_array_equal(counts, ref["num_points_per_layer"])
    energies = energy_per_layer(data, geometry, num_layers=NUM_LAYERS)
    assert energies.dtype == np.float32
    np.testing.assert_array_equal(energies, ref["energy_per_layer"])
    radial = energy_per_radial_bin(data, geometry)
    assert radial.dtype == np.float32 and radial.shape == (len(data), 200)
    np.testing.assert_array_equal(radial, ref["energy_per_radial_bin"])
    np.testing.assert_array_equal(
        energy_per_radial_bin(
            data, geometry, bin_edges=reference["observables"]["custom_radial_edges"]
        ),
        ref["energy_per_radial_bin_custom"],
    )
    center = center_of_energy(data, geometry)
    assert center.dtype == np.float32
    np.testing.assert_array_equal(center, ref["center_of_energy"])
    fused = observables(data, geometry, num_layers=NUM_LAYERS)
    np.testing.assert_array_equal(fused.num_points_per_layer, counts)
    np.testing.assert_array_equal(fused.energy_per_layer, energies)
    np.testing.assert_array_equal(fused.energy_per_radial_bin, radial)
    np.testing.assert_array_equal(fused.center_of_energy, center)


@pytest.mark.parametrize("count", [0, 1, 7, 8, 9, 127, 128, 129, 300, 1000, 4099])
def test_pairwise_sum_follows_numpy(count) -> None:
    # The centre of energy relies on reproducing np.sum's float32 order.
    values = np.random.default_rng(count).lognormal(-7, 2, count).astype(np.float32)
    assert _pairwise_sum(values, count) == np.sum(values)


def test_observables_parameters(points) -> None:
    with pytest.raises(ValueError, match="num_layers must be given"):
        num_points_per_layer(points)
    assert num_points_per_layer(points, ILD).shape == (len(points), NUM_LAYERS)
    bad = points.copy()
    bad[3, 1, 2] = 80.0
    with pytest.raises(ValueError, match="shower 13"):
        energy_per_layer(bad, ILD, shower_index=np.arange(10, 50))
    with pytest.raises(ValueError, match="shower 3"):
        num_points_per_layer(bad, num_layers=NUM_LAYERS)
    # Without a geometry the radial profile and centre do not need layers.
    energy_per_radial_bin(bad)
    with pytest.raises(ValueError, match="bin_edges"):
        energy_per_radial_bin(points, bin_edges=[10.0, 5.0, 20.0])
    with pytest.raises(TypeError, match="geometry"):
        center_of_energy(points, "ILD")  # type: ignore[arg-type]


def test_radial_bins_ignore_points_below_the_first_edge(points) -> None:
    # 0.7's np.digitize - 1 would put them into the *last* bin.
    radial = energy_per_radial_bin(points[2:3], bin_edges=[100.0, 150.0, 200.0])
    r = np.hypot(points[2, :, 0], points[2, :, 1])
    e = points[2, :, 3]
    np.testing.assert_allclose(
        radial[0],
        [e[(r >= 100) & (r < 150)].sum(), e[(r >= 150) & (r < 200)].sum()],
        rtol=1e-5,
    )


# ---------------------------------------------------------------------------
# Shift
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["forward", "inverse"])
@pytest.mark.parametrize("num_features", [5, 4])
def test_shift_matches_v07(reference, points, directions, mode, num_features) -> None:
    result = shift_points(
        points[..., :num_features],
        directions,
        ILD.layer_bottom_pos,
        ILD.calo_surface,
        inverse=mode == "inverse",
    )
    # 0.7 also shifts the padding (e == 0) rows, leaving stray x and y behind
    # the real points; here padding stays zero.  Real points are identical.
    expected = reference["shift"][mode][..., :num_features].copy()
    expected[expected[..., 3] == 0] = 0
    np.testing.assert_array_equal(result, expected)


def test_shift_round_trip(points, directions) -> None:
    args = (ILD.layer_bottom_pos, ILD.calo_surface)
    inverse = shift_points(points, directions, *args, inverse=True)
    back = shift_points(inverse, directions, *args)
    # The toy points lie well inside the box, so none is lost on the way back
    # and the result differs from the input by float32 rounding only.
    assert np.array_equal(back[..., 3] > 0, points[..., 3] > 0)
    np.testing.assert_allclose(back, points, atol=1e-3)
    # The forward shift does drop points of steep showers (shower 4).
    forward = shift_points(points, directions, *args)
    assert np.count_nonzero(forward[4, :, 3]) < np.count_nonzero(points[4, :, 3])


def test_shift_rejects_bad_input(points, directions) -> None:
    args = (ILD.layer_bottom_pos, ILD.calo_surface)
    flat = directions.copy()
    flat[4] = (1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="shower 204.*z == 0"):
        shift_points(points, flat, *args, shower_index=np.arange(200, 240))
    bad = points.copy()
    bad[6, 0, 2] = 78.0
    with pytest.raises(ValueError, match="shower 6"):
        shift_points(bad, directions, *args)
    with pytest.raises(ValueError, match="directions"):
        shift_points(points, directions[:3], *args)
    with pytest.raises(TypeError, match="calo_surface"):
        shift_points(points, directions, ILD.layer_bottom_pos, "1804")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# All block functions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("num_features", [4, 5])
def test_empty_blocks(num_features) -> None:
    # dask's map_blocks may probe functions with empty blocks.
    for shape in ((0, 10, num_features), (3, 0, num_features)):
        empty = np.zeros(shape, dtype=np.float32)
        n = shape[0]
        assert filter_points(empty, 10.0).shape == shape
        assert cluster_points(empty, np.zeros((n, 2, 2)), ILD).shape == shape
        assert (
            shift_points(
                empty, np.tile([0, 0, 1.0], (n, 1)), ILD.layer_bottom_pos, 1804.0
            ).shape
            == shape
        )
        result = observables(empty, ILD)
        assert result.num_points_per_layer.shape == (n, NUM_LAYERS)
        assert result.energy_per_radial_bin.shape == (n, 200)
        assert result.center_of_energy.shape == (n, 3)


@pytest.mark.parametrize("seed", range(20))
def test_screening_kernels_match_numpy_on_any_run(seed) -> None:
    from showerdata.kernels.layout import any_bit_set, has_suspect_value

    rng = np.random.default_rng(seed)
    values = rng.uniform(0.1, 1.0, 60).astype(np.float32)
    bad = rng.integers(0, 60, 2)
    values[bad[0]] = rng.choice([np.nan, np.inf, -np.inf, -0.5, 0.0])
    bits = np.zeros(60, np.uint32)
    bits[bad[1]] = 1
    for begin in range(0, 60, 7):
        for end in range(begin, 61, 5):
            for first_energy in range(begin, min(begin + 5, 60)):
                run = values[begin:end]
                energies = values[first_energy:end:5]
                expected = bool((~np.isfinite(run)).any() or (energies <= 0).any())
                got = has_suspect_value(values, begin, end, first_energy, 5)
                assert got == expected, (begin, end, first_energy)
            assert any_bit_set(bits, begin, end) == bool(bits[begin:end].any())
