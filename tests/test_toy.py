"""Tests for the seeded toy shower generator."""

from __future__ import annotations

import numpy as np
import pytest

from showerdata.toy import BLOCK, NUM_ECAL_LAYERS, NUM_LAYERS, toy_arrays

KEYS = ("points", "num_points", "energies", "directions", "pdg", "shower_ids")

# Small padded size keeps every test fast while still leaving room for padding
# (a 10 GeV shower has ~220 hits, so low-energy showers are not all capped).
SMALL_P = 300


def _real_mask(data: dict[str, np.ndarray]) -> np.ndarray:
    """Boolean (n, P) mask of the real (non-padding) points."""
    max_points = data["points"].shape[1]
    return np.arange(max_points) < data["num_points"][:, None]


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("num_features", [4, 5])
def test_shapes_and_dtypes(num_features: int) -> None:
    n = 7
    data = toy_arrays(3, 3 + n, max_points=SMALL_P, num_features=num_features)
    assert set(data) == set(KEYS)
    assert data["points"].shape == (n, SMALL_P, num_features)
    assert data["points"].dtype == np.float32
    assert data["num_points"].shape == (n,)
    assert data["num_points"].dtype == np.int32
    assert data["energies"].shape == (n, 1)
    assert data["energies"].dtype == np.float32
    assert data["directions"].shape == (n, 3)
    assert data["directions"].dtype == np.float32
    assert data["pdg"].shape == (n,)
    assert data["pdg"].dtype == np.int32
    assert data["shower_ids"].shape == (n,)
    assert data["shower_ids"].dtype == np.int32


@pytest.mark.parametrize("num_features", [4, 5])
def test_padding_zero_and_real_points_positive(num_features: int) -> None:
    data = toy_arrays(0, 200, max_points=SMALL_P, num_features=num_features)
    points, num_points = data["points"], data["num_points"]
    mask = _real_mask(data)
    assert np.all((num_points >= 0) & (num_points <= SMALL_P))
    # Some showers must be shorter than P, otherwise padding is not tested.
    assert np.any(num_points < SMALL_P)
    assert np.all(points[~mask] == 0.0)
    assert np.all(points[mask][:, 3] > 0.0)
    if num_features == 5:
        assert np.all(points[mask][:, 4] > 0.0)
    assert np.all(np.isfinite(points))


def test_num_points_grows_with_energy() -> None:
    data = toy_arrays(0, 400, max_points=5000, num_features=4)
    energy = data["energies"][:, 0]
    num_points = data["num_points"]
    low = num_points[energy < 30.0]
    high = num_points[energy > 70.0]
    assert low.size > 20 and high.size > 20
    assert high.mean() > 2.0 * low.mean()
    # Roughly 22 hits per GeV for photons.
    per_gev = num_points / energy
    assert 15.0 < per_gev.mean() < 30.0


def test_num_points_capped_at_max_points() -> None:
    data = toy_arrays(0, 50, max_points=10)
    assert np.all(data["num_points"] == 10)
    assert np.all(data["points"][..., 3] > 0.0)


def test_layers_integer_valued_in_range() -> None:
    data = toy_arrays(0, 200, max_points=SMALL_P, num_features=4)
    layers = data["points"][_real_mask(data)][:, 2]
    assert np.all(layers == np.round(layers))
    assert layers.min() >= 0
    assert layers.max() <= NUM_LAYERS - 1


def test_em_shower_maximum_moves_deeper_with_energy() -> None:
    data = toy_arrays(0, 600, max_points=5000, num_features=4)
    energy = data["energies"][:, 0]
    points = data["points"]
    weighted_layer = (points[..., 2] * points[..., 3]).sum(1) / points[..., 3].sum(1)
    low = weighted_layer[energy < 25.0].mean()
    high = weighted_layer[energy > 75.0].mean()
    assert high > low
    # A photon shower is mostly contained in the ECAL.
    layers = points[_real_mask(data)][:, 2]
    assert np.mean(layers < NUM_ECAL_LAYERS) > 0.9


def test_hadron_showers_reach_hcal() -> None:
    data = toy_arrays(0, 100, max_points=SMALL_P, num_features=4, pdg=211)
    assert np.all(data["pdg"] == 211)
    layers = data["points"][_real_mask(data)][:, 2]
    assert np.mean(layers >= NUM_ECAL_LAYERS) > 0.5


def test_radial_core_and_halo() -> None:
    data = toy_arrays(0, 300, max_points=SMALL_P, num_features=4)
    real = data["points"][_real_mask(data)]
    radius = np.hypot(real[:, 0], real[:, 1])
    energy = real[:, 3]
    assert energy[radius < 50.0].sum() / energy.sum() > 0.7
    assert np.any(radius > 200.0)


def test_hit_energy_scale() -> None:
    data = toy_arrays(0, 300, max_points=5000, num_features=4)
    real = data["points"][_real_mask(data)]
    # Sampling calorimeter: visible energy is a few percent of the incident.
    visible = data["points"][..., 3].sum(1) / data["energies"][:, 0]
    assert 0.005 < visible.mean() < 0.1
    # Some hits lie below typical MIP-fraction thresholds, most do not.
    below = np.mean(real[:, 3] < 0.25e-3)
    assert 0.01 < below < 0.6


@pytest.mark.parametrize("energy_range", [(10.0, 90.0), (1.0, 2.0), (50.0, 50.0)])
def test_energies_within_range(energy_range: tuple[float, float]) -> None:
    data = toy_arrays(0, 100, max_points=20, energy_range=energy_range)
    energies = data["energies"]
    low, high = energy_range
    assert np.all(energies >= np.float32(low))
    assert np.all(energies <= np.float32(high))
    if low < high:
        assert np.unique(energies).size > 1


def test_same_seed_identical() -> None:
    a = toy_arrays(5, 60, seed=11, max_points=SMALL_P, angle_spread=0.1)
    b = toy_arrays(5, 60, seed=11, max_points=SMALL_P, angle_spread=0.1)
    _assert_same(a, b)


def test_different_seed_differs() -> None:
    a = toy_arrays(0, 20, seed=1, max_points=SMALL_P)
    b = toy_arrays(0, 20, seed=2, max_points=SMALL_P)
    assert not np.array_equal(a["energies"], b["energies"])
    assert not np.array_equal(a["points"], b["points"])
    np.testing.assert_array_equal(a["shower_ids"], b["shower_ids"])


def test_showers_in_different_blocks_differ() -> None:
    # Blocks use distinct streams, so shower i and shower i + BLOCK differ.
    a = toy_arrays(0, 5, max_points=SMALL_P)
    b = toy_arrays(BLOCK, BLOCK + 5, max_points=SMALL_P)
    assert not np.array_equal(a["energies"], b["energies"])


@pytest.mark.parametrize(
    "splits",
    [
        [0, 1234, 2 * BLOCK + 100],
        [0, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 100],
        [0, 1, 2 * BLOCK, 2 * BLOCK + 100],
        [0, 2 * BLOCK + 100],
    ],
)
def test_batching_independence(splits: list[int]) -> None:
    kwargs = dict(seed=3, max_points=40, num_features=5, angle_spread=0.05)
    full = toy_arrays(splits[0], splits[-1], **kwargs)
    parts = [
        toy_arrays(a, b, **kwargs) for a, b in zip(splits[:-1], splits[1:], strict=True)
    ]
    joined = {key: np.concatenate([p[key] for p in parts]) for key in KEYS}
    _assert_same(full, joined)


def test_subrange_not_starting_at_zero() -> None:
    kwargs = dict(seed=5, max_points=30)
    full = toy_arrays(0, BLOCK + 50, **kwargs)
    part = toy_arrays(BLOCK - 20, BLOCK + 30, **kwargs)
    for key in KEYS:
        np.testing.assert_array_equal(part[key], full[key][BLOCK - 20 : BLOCK + 30])


def test_first_four_features_independent_of_num_features() -> None:
    four = toy_arrays(0, 30, max_points=SMALL_P, num_features=4)
    five = toy_arrays(0, 30, max_points=SMALL_P, num_features=5)
    np.testing.assert_array_equal(four["points"], five["points"][..., :4])
    np.testing.assert_array_equal(four["num_points"], five["num_points"])


@pytest.mark.parametrize("num_features", [4, 5])
def test_empty_range(num_features: int) -> None:
    data = toy_arrays(17, 17, max_points=SMALL_P, num_features=num_features)
    assert data["points"].shape == (0, SMALL_P, num_features)
    assert data["points"].dtype == np.float32
    assert data["num_points"].shape == (0,)
    assert data["energies"].shape == (0, 1)
    assert data["directions"].shape == (0, 3)
    assert data["pdg"].shape == (0,)
    assert data["shower_ids"].shape == (0,)


def test_max_points_zero() -> None:
    data = toy_arrays(0, 12, max_points=0, num_features=5)
    assert data["points"].shape == (12, 0, 5)
    assert np.all(data["num_points"] == 0)
    assert data["energies"].shape == (12, 1)


def test_shower_ids_are_global_indices() -> None:
    data = toy_arrays(BLOCK - 3, BLOCK + 4, max_points=5)
    np.testing.assert_array_equal(data["shower_ids"], np.arange(BLOCK - 3, BLOCK + 4))


def test_default_directions_and_pdg() -> None:
    data = toy_arrays(0, 10, max_points=5)
    expected = np.tile(np.array([0.0, 0.0, 1.0], dtype=np.float32), (10, 1))
    np.testing.assert_array_equal(data["directions"], expected)
    assert np.all(data["pdg"] == 22)


def test_directions_unit_vectors_with_angle_spread() -> None:
    spread = 0.2
    data = toy_arrays(0, 500, max_points=5, angle_spread=spread)
    directions = data["directions"].astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0, atol=1e-6)
    angle = np.arccos(np.clip(directions[:, 2], -1.0, 1.0))
    assert np.all(angle <= spread + 1e-5)
    # Directions are actually tilted, in all azimuthal directions.
    assert np.mean(angle) > 0.05
    assert np.any(directions[:, 0] > 0) and np.any(directions[:, 0] < 0)
    assert np.any(directions[:, 1] > 0) and np.any(directions[:, 1] < 0)


def test_tilted_shower_axis_drifts_with_depth() -> None:
    data = toy_arrays(0, 50, max_points=SMALL_P, num_features=4, angle_spread=0.3)
    points, directions = data["points"], data["directions"]
    mask = _real_mask(data)
    # The mean x in a deep layer should follow the direction's x slope.
    slope_x = directions[:, 0] / directions[:, 2]
    deep = mask & (points[..., 2] >= 15)
    mean_x = np.array([points[i][deep[i], 0].mean() for i in range(len(points))])
    assert np.corrcoef(slope_x, mean_x)[0, 1] > 0.8


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(start=5, stop=4),
        dict(start=-1, stop=4),
        dict(start=0, stop=4, num_features=3),
        dict(start=0, stop=4, max_points=-1),
        dict(start=0, stop=4, energy_range=(0.0, 10.0)),
        dict(start=0, stop=4, energy_range=(20.0, 10.0)),
        dict(start=0, stop=4, angle_spread=-0.1),
        dict(start=0, stop=4, angle_spread=2.0),
        dict(start=0, stop=4, seed=-1),
    ],
)
def test_invalid_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        toy_arrays(**kwargs)
