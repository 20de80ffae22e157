"""Bad values inside showers are named by the shower's index in the whole input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from showerdata import ShowerDataError, Showers, cluster, load, observables, shift
from showerdata.detector import get_ILD_geometry, get_test_geometry

NUM_LAYERS = 10
BAD_SHOWER = 23


def showers_with_one_bad_point() -> Showers:
    """30 showers on layers 0..9, but shower 23 has a point on layer 12."""
    rng = np.random.default_rng(5)
    points = np.zeros((30, 5, 4), np.float32)
    points[:, :, 0:2] = rng.normal(0.0, 20.0, (30, 5, 2))
    points[:, :, 2] = rng.integers(0, NUM_LAYERS, (30, 5))
    points[:, :, 3] = rng.uniform(0.01, 1.0, (30, 5))
    points[BAD_SHOWER, 2, 2] = 12.0
    return Showers(points, np.ones((30, 1), np.float32), 22)


GEOMETRY = get_test_geometry(NUM_LAYERS)
CALLS = {
    "num_points_per_layer": lambda s: observables.calc_num_points_per_layer(
        s, NUM_LAYERS
    ),
    "energy_per_layer": lambda s: observables.calc_energy_per_layer(s, NUM_LAYERS),
    "energy_per_radial_bin": lambda s: observables.calc_energy_per_radial_bin(
        s, detector_config=GEOMETRY
    ),
    "center_of_energy": lambda s: observables.calc_center_of_energy(s, GEOMETRY),
    "all four": lambda s: observables.calc_observables(s, GEOMETRY)["energy_per_layer"],
    "cluster": lambda s: cluster(s, detector_config=GEOMETRY, seed=1).points,
}


@pytest.mark.parametrize("chunks", [None, 7, 12])
@pytest.mark.parametrize("call", CALLS)
def test_the_shower_is_named_by_its_global_index(call, chunks):
    showers = showers_with_one_bad_point()
    if chunks is not None:
        showers = showers.chunk(chunks)
    with pytest.raises(ShowerDataError) as raised:
        np.asarray(CALLS[call](showers))
    assert raised.value.index == BAD_SHOWER
    assert f"shower {BAD_SHOWER}" in str(raised.value)
    assert f"outside 0..{NUM_LAYERS - 1}" in str(raised.value)


@pytest.mark.parametrize("call", CALLS)
def test_without_the_bad_shower_there_is_no_error(call):
    showers = showers_with_one_bad_point()
    keep = np.arange(30) != BAD_SHOWER
    values = np.asarray(CALLS[call](showers[keep].chunk(7)))
    assert values.shape[0] == 29


@pytest.mark.parametrize("chunks", [None, 7, 12])
@pytest.mark.parametrize("inverse", [False, True])
def test_shift_names_a_flat_direction_by_its_global_index(chunks, inverse):
    showers = showers_with_one_bad_point()
    directions = np.tile(np.float32([0.1, -0.2, 0.97]), (30, 1))
    directions[BAD_SHOWER] = [0.5, 0.5, 0.0]
    showers = Showers(showers.points % 9, showers.energies, 22, directions)
    if chunks is not None:
        showers = showers.chunk(chunks)
    with pytest.raises(ShowerDataError) as raised:
        shift(showers, inverse=inverse).compute()
    assert raised.value.index == BAD_SHOWER
    assert str(raised.value).startswith(f"shower {BAD_SHOWER}: incident direction")


INFERRED_LAYERS = """
import json
import numpy as np
import showerdata
from showerdata import observables

found = {}
points = np.zeros((3, 4, 4), np.float32)
cases = {"no points": points.copy()}
points[0, 0] = [1, 1, 4.95, 0.5]  # int(4.95 + 0.1) = layer 5
cases["layer 5"] = points.copy()
points[2, :2] = [[0, 0, 12.0, 0.1], [0, 0, 11.9, 0.2]]
cases["layer 12"] = points.copy()
for name, values in cases.items():
    showers = showerdata.Showers(values, np.ones((3, 1)), 22)
    found[name] = [
        list(np.asarray(observables.calc_num_points_per_layer(showers)).shape),
        np.asarray(observables.calc_energy_per_layer(showers)).tolist(),
    ]
print(json.dumps(found))
"""


def test_layers_inferred_in_memory_as_v07_infers_them(v07, capsys):
    theirs = v07(INFERRED_LAYERS)
    exec(INFERRED_LAYERS, {})
    ours = json.loads(capsys.readouterr().out)
    assert theirs["no points"][0] == [3, 1]  # one layer, as 0.7 says
    assert ours == theirs


# -- a geometry that contradicts the showers' clustered_for -------------------------

ILD = get_ILD_geometry()
EVERY_OBSERVABLE = {
    "num_points_per_layer": lambda s: observables.calc_num_points_per_layer(
        s, detector_config=ILD
    ),
    "energy_per_layer": lambda s: observables.calc_energy_per_layer(
        s, detector_config=ILD
    ),
    "energy_per_radial_bin": lambda s: observables.calc_energy_per_radial_bin(
        s, detector_config=ILD
    ),
    "center_of_energy": lambda s: observables.calc_center_of_energy(s, ILD),
    "all four": lambda s: observables.calc_observables(s, ILD),
}
CONTRADICTION = (
    "the showers are clustered for the 'TestDetector' geometry (attribute "
    "'clustered_for') but the observables were asked for with detector_config "
    "Geometry(ILD) ('ILD'): its thresholds and layers would not match the cells. "
    "Pass the 'TestDetector' geometry (showerdata.detector makes the built-in "
    "ones) or, for a file, leave detector_config out to use it"
)


@pytest.fixture
def test_detector_files(tmp_path):
    showers = showers_with_one_bad_point()[:BAD_SHOWER]
    showers = showers.assign_attrs(clustered_for=GEOMETRY.name)
    for name in ("a.h5", "b.h5"):
        showers.save(tmp_path / name)
    return tmp_path


@pytest.mark.parametrize("call", EVERY_OBSERVABLE.values(), ids=EVERY_OBSERVABLE)
def test_every_observable_refuses_a_contradicting_geometry(call, test_detector_files):
    one = test_detector_files / "a.h5"
    with pytest.raises(ShowerDataError) as raised:
        call(load(one))
    assert str(raised.value) == f"file '{one}': {CONTRADICTION}"
    with pytest.raises(ShowerDataError) as raised:
        call(load(test_detector_files / "*.h5"))
    assert str(raised.value) == CONTRADICTION  # two files: no one file to name
    with pytest.raises(ShowerDataError) as raised:
        call(load(one).compute())
    assert str(raised.value) == f"file '{one}': {CONTRADICTION}"


def test_observables_of_no_showers_have_no_layers():
    none = showers_with_one_bad_point()[:0]
    assert observables.calc_energy_per_layer(none).shape == (0, 0)
    assert observables.calc_num_points_per_layer(none).shape == (0, 0)


@pytest.mark.parametrize("num_layers", [12, 15])
def test_all_four_take_num_layers_over_the_geometry(num_layers):
    showers = showers_with_one_bad_point()[:BAD_SHOWER]
    values = observables.calc_observables(showers, GEOMETRY, num_layers=num_layers)
    lazy = observables.calc_observables(
        showers.chunk(7), GEOMETRY, num_layers=num_layers
    )
    # Hand-made reference: energies and counts of points on each layer.
    layer = showers.points[..., 2].astype(int)
    energy = showers.points[..., 3]
    real = np.arange(showers.points.shape[1]) < showers.num_points[:, None]
    for name, dtype in (
        ("energy_per_layer", np.float32),
        ("num_points_per_layer", np.int32),
    ):
        expected = np.zeros((len(showers), num_layers), dtype)
        for i, j in zip(*np.nonzero(real & (layer < num_layers)), strict=True):
            expected[i, layer[i, j]] += energy[i, j] if dtype is np.float32 else 1
        for form in (values[name], lazy[name].compute()):
            assert form.dtype == dtype, name
            np.testing.assert_allclose(form, expected, rtol=1e-6, err_msg=name)
    for name, array in values.items():
        assert lazy[name].shape == array.shape, name
        assert (
            array.dtype
            == lazy[name].compute().dtype
            == (np.int32 if name == "num_points_per_layer" else np.float32)
        ), name


def test_zero_layers_asked_for_leave_no_layer_for_the_points():
    # 0.7 raised IndexError here (np.add.at into zero columns); we name the shower.
    showers = showers_with_one_bad_point()[:3]
    with pytest.raises(ShowerDataError, match="shower 0: .* outside 0..-1"):
        observables.calc_energy_per_layer(showers, num_layers=0)


def test_layers_of_lazy_showers_must_be_given():
    lazy = showers_with_one_bad_point()[:BAD_SHOWER].chunk(7)
    for call in (
        observables.calc_energy_per_layer,
        lambda s: observables.calc_observables(s, None),
    ):
        with pytest.raises(ValueError) as raised:
            call(lazy)
        assert str(raised.value) == (
            "num_layers (or detector_config) is required for lazy showers: the "
            "number of layers would otherwise depend on the data."
        )


def test_all_four_without_a_geometry_infer_the_layers_in_memory():
    showers = showers_with_one_bad_point()[:BAD_SHOWER]  # layers 0..9
    values = observables.calc_observables(showers, None)
    assert values["energy_per_layer"].shape == (BAD_SHOWER, NUM_LAYERS)
    np.testing.assert_allclose(
        values["energy_per_layer"].sum(axis=1),
        showers.points[..., 3].sum(axis=1),
        rtol=1e-5,
    )
