"""Provenance travels with the data: ``Showers.attrs`` from load, through ops, to save.

Expected values come from showerdata 0.7.0 (its root attributes and its
observables, through SHOWERDATA_V07_PYTHON) or are worked out by hand.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import showerdata
from showerdata.detector import (
    get_ILD_geometry,
    get_ILD_unclustered_geometry,
    get_test_geometry,
)
from showerdata.observables import (
    add_observables_to_file,
    calc_energy_per_layer,
    read_observables_from_file,
)
from showerdata.toy import toy_showers

V07_WRITE_WITH_ATTRIBUTES = """
import sys, numpy as np, showerdata
from showerdata.observables import add_observables_to_file
rng = np.random.default_rng(5)
points = np.zeros((6, 10, 4), np.float32)
for i in range(6):
    n = 3 + i
    points[i, :n, 0] = rng.uniform(-50, 50, n)
    points[i, :n, 1] = rng.uniform(-50, 50, n)
    points[i, :n, 2] = rng.integers(0, 60, n)
    points[i, :n, 3] = rng.uniform(0.001, 0.1, n)
showers = showerdata.Showers(points, np.full((6, 1), 20.0), 22)
showerdata.save(showers, sys.argv[1])
meta = {"clustered_for": "ILD", "campaign": "tb-2026"}
showerdata.core.add_metadata(sys.argv[1], meta)
add_observables_to_file(sys.argv[1])
print(0)
"""

V07_READ_ATTRIBUTES_AND_OBSERVABLES = """
import sys, json, showerdata
from showerdata.observables import add_observables_to_file, read_observables_from_file
add_observables_to_file(sys.argv[1])
meta = showerdata.core.load_metadata(sys.argv[1])
values = read_observables_from_file(sys.argv[1])
print(json.dumps({
    "meta": {k: str(v) for k, v in meta.items()},
    "energy_per_layer": values["energy_per_layer"].tolist(),
    "num_points_per_layer": values["num_points_per_layer"].tolist(),
}))
"""


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    path = tmp_path_factory.mktemp("prov") / "production.h5"
    toy_showers(60, chunks=20, seed=4, max_points=200).save(path)
    return path


# -- load reads, ops add, save writes ----------------------------------------------


def test_attributes_0_7_wrote_are_the_attrs_of_load(tmp_path, v07):
    path = tmp_path / "v07.h5"
    v07(V07_WRITE_WITH_ATTRIBUTES, str(path))
    showers = showerdata.load(path)
    # 0.7 set clustered_for and our key; its add_observables_to_file recorded
    # the geometry it took from clustered_for.
    assert showers.attrs == {
        "clustered_for": "ILD",
        "campaign": "tb-2026",
        "observables_computed_for": "ILD",
    }
    assert showerdata.load_inc_particles(path).attrs == showers.attrs


def test_operations_add_to_attrs_and_leave_their_input_alone(production):
    showers = showerdata.load(production)
    showers.attrs["campaign"] = "tb-2026"
    before = dict(showers.attrs)
    clustered = showerdata.cluster(showers, seed=1)
    filtered = showerdata.filter_showers(clustered, radius=100.0)
    twice = showerdata.filter_showers(filtered, ecal_threshold=1e-4)
    shifted = showerdata.shift(showers)
    unshifted = showerdata.shift(shifted, inverse=True)
    assert showers.attrs == before
    assert clustered.attrs == {"campaign": "tb-2026", "clustered_for": "ILD"}
    assert filtered.attrs["filtered_with"] == (
        "radius=100.0, ecal_threshold=0.0, hcal_threshold=0.0, num_layers_ecal=30"
    )
    assert twice.attrs["filtered_with"] == (
        "radius=100.0, ecal_threshold=0.0, hcal_threshold=0.0, num_layers_ecal=30; "
        "radius=inf, ecal_threshold=0.0001, hcal_threshold=0.0, num_layers_ecal=30"
    )
    assert shifted.attrs == {"campaign": "tb-2026", "shifted": "ILD"}
    assert unshifted.attrs == {"campaign": "tb-2026"}
    test = get_test_geometry(5)
    assert showerdata.cluster(showers, detector_config=test).attrs["clustered_for"] == (
        "TestDetector"
    )


def test_attrs_survive_selections_and_forms(production):
    showers = showerdata.load(production).assign_attrs(campaign="tb", run=7)
    expected = {"campaign": "tb", "run": 7}
    kept = [
        showers[3],
        showers[2:9],
        showers[[1, 5]],
        showers.compute(),
        showers[:5].compute()[1:],
        showers.persist(),
        showers.chunk(7),
        showers.copy(),
        showers.compute().chunk(10),
        showers.inc_particles,
    ]
    for result in kept:
        assert result.attrs == expected
        assert result.attrs is not showers.attrs
    other = showerdata.load(production).assign_attrs(campaign="tb", run=8)
    assert showerdata.concatenate([showers, other]).attrs == {"campaign": "tb"}


def test_a_file_loses_the_observables_record_when_its_points_change(tmp_path, v07):
    path = tmp_path / "v07.h5"
    v07(V07_WRITE_WITH_ATTRIBUTES, str(path))
    showers = showerdata.load(path)
    filtered = showerdata.filter_showers(showers, radius=30.0)
    assert "observables_computed_for" not in filtered.attrs
    # save writes no observables, so it does not claim any either.
    showerdata.save(showers, tmp_path / "copy.h5")
    with h5py.File(tmp_path / "copy.h5") as file:
        assert "observables" not in file
        assert "observables_computed_for" not in file.attrs
        assert file.attrs["clustered_for"] == "ILD"
        assert file.attrs["campaign"] == "tb-2026"


@pytest.mark.parametrize("suffix", [".h5", ".zarr"])
def test_save_writes_attrs_that_0_7_reads(tmp_path, v07, production, suffix):
    clustered = showerdata.cluster(showerdata.load(production)[:12], seed=3)
    clustered = clustered.assign_attrs(campaign="tb-2026", energy_cut=1.5)
    path = tmp_path / f"clustered{suffix}"
    showerdata.save(clustered, path)
    assert showerdata.load(path).attrs == {
        "clustered_for": "ILD",
        "campaign": "tb-2026",
        "energy_cut": 1.5,
    }
    if suffix == ".zarr":
        return  # 0.7 reads HDF5 only
    seen = v07(V07_READ_ATTRIBUTES_AND_OBSERVABLES, str(path))
    assert seen["meta"]["clustered_for"] == "ILD"
    assert seen["meta"]["campaign"] == "tb-2026"
    assert seen["meta"]["energy_cut"] == "1.5"
    # 0.7 took the ILD geometry from our attribute.
    assert seen["meta"]["observables_computed_for"] == "ILD"


def test_save_refuses_attrs_it_cannot_store_before_writing(tmp_path, production):
    showers = showerdata.load(production)[:4]
    showers.attrs["bins"] = [1, 2, 3]
    with pytest.raises(TypeError, match="attrs 'bins' must be str, int, float"):
        showerdata.save(showers, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


# -- observables take the geometry from the attrs ----------------------------------


def test_observables_of_saved_clustered_showers_use_the_clustered_geometry(
    tmp_path, v07, production
):
    """The case of issue 21: 0.7 and our 0.8.dev took the unclustered geometry."""
    clustered = showerdata.cluster(showerdata.load(production), seed=2)
    showerdata.save(clustered, tmp_path / "x.zarr")
    showerdata.save(clustered, tmp_path / "x.h5")
    add_observables_to_file(tmp_path / "x.zarr")
    ours = read_observables_from_file(tmp_path / "x.zarr")
    assert showerdata.load_metadata(tmp_path / "x.zarr")[
        "observables_computed_for"
    ] == ("ILD")
    reference = v07(V07_READ_ATTRIBUTES_AND_OBSERVABLES, str(tmp_path / "x.h5"))
    assert reference["meta"]["observables_computed_for"] == "ILD"
    np.testing.assert_array_equal(
        ours["num_points_per_layer"], np.array(reference["num_points_per_layer"])
    )
    np.testing.assert_allclose(
        ours["energy_per_layer"],
        np.array(reference["energy_per_layer"], dtype=np.float32),
        rtol=1e-6,
    )
    assert ours["energy_per_layer"].shape == (60, get_ILD_geometry().num_layers)


def test_a_geometry_that_contradicts_clustered_for_is_an_error(tmp_path, production):
    clustered = showerdata.cluster(showerdata.load(production)[:10], seed=2)
    path = tmp_path / "clustered.h5"
    showerdata.save(clustered, path)
    with pytest.raises(showerdata.ShowerDataError) as caught:
        add_observables_to_file(path, detector_config=get_ILD_unclustered_geometry())
    message = str(caught.value)
    assert str(path) in message
    assert "'ILD'" in message and "ILD_unclustered" in message
    with h5py.File(path) as file:  # nothing written
        assert "observables" not in file
        assert "observables_computed_for" not in file.attrs
    with pytest.raises(showerdata.ShowerDataError, match="TestDetector"):
        calc_energy_per_layer(clustered, detector_config=get_test_geometry(5))
    # The geometry it names is fine, and so is any for files without the record.
    add_observables_to_file(path, detector_config=get_ILD_geometry())
    unclustered = tmp_path / "plain.h5"
    showerdata.save(showerdata.load(production)[:10], unclustered)
    add_observables_to_file(unclustered, detector_config=get_test_geometry(78))
    assert showerdata.load_metadata(unclustered)["observables_computed_for"] == (
        "TestDetector"
    )


def test_observables_of_a_test_detector_file_worked_by_hand(tmp_path):
    # Two showers on a 3-layer test detector with a 0.5 MeV threshold. Shower 0:
    # 0.2 GeV and 0.3 GeV in layer 0, 0.1 GeV in layer 2; shower 1: 0.4 MeV in
    # layer 1 (below threshold) and 0.6 GeV in layer 1.
    points = np.zeros((2, 3, 4), np.float32)
    points[0, :3] = [[0, 0, 0, 0.2], [5, 5, 0, 0.3], [0, 0, 2, 0.1]]
    points[1, :2] = [[0, 0, 1, 0.0004], [1, 1, 1, 0.6]]
    geometry = get_test_geometry(3, threshold=0.5)
    showers = showerdata.Showers(points, [10.0, 20.0], 22)
    showers = showers.assign_attrs(clustered_for=geometry.name)
    path = tmp_path / "test-detector.zarr"
    showerdata.save(showers, path)
    with pytest.raises(ValueError, match="Unknown 'clustered_for' attribute value"):
        add_observables_to_file(path)  # a name alone does not give the layers
    with pytest.raises(showerdata.ShowerDataError, match="'TestDetector'"):
        add_observables_to_file(path, detector_config=get_ILD_geometry())
    add_observables_to_file(path, detector_config=geometry)
    values = read_observables_from_file(path)
    np.testing.assert_allclose(
        values["energy_per_layer"], [[0.5, 0.0, 0.1], [0.0, 0.6, 0.0]], rtol=1e-6
    )
    counts = values["num_points_per_layer"]
    np.testing.assert_array_equal(counts, [[2, 0, 1], [0, 1, 0]])
    assert json.loads(json.dumps(showerdata.load(path).attrs)) == {
        "clustered_for": "TestDetector",
        "observables_computed_for": "TestDetector",
    }
