"""Showers-level operations against showerdata 0.7.0, lazy and in memory.

The expected values come from showerdata 0.7.0 itself, never from the function
under test:

- the committed 0.7 outputs in ``fixtures/v07_processing/`` (a fixed block of
  40 showers with varied incident directions, written by
  ``fixtures/make_processing_reference_v07.py``);
- outputs computed live by 0.7 (``fixtures/ops_reference_v07.py`` through the
  ``v07`` fixture) for toy showers with varied incident directions and points
  in both calorimeters, for a custom ``DetectorGeometry`` too.

Every case runs on in-memory showers and on lazy ones in three chunkings (two
from ``Showers.chunk``, one from ``load``) and checks the form is kept.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import dask
import numpy as np
import pytest
from conftest import FIXTURES, assert_arrays_equal, assert_showers_equal

import showerdata
from showerdata import Showers, observables
from showerdata.detector import (
    DetectorGeometry,
    get_ILD_geometry,
    get_ILD_unclustered_geometry,
    get_test_geometry,
)
from showerdata.filter import filter_file
from showerdata.toy import toy_arrays

PROCESSING = FIXTURES / "v07_processing"
FORMS = ("memory", "chunk-7", "chunk-16", "load-11")
NUM_LAYERS = 78
OBSERVABLE_FUNCTIONS = {
    "num_points_per_layer": lambda s, g: observables.calc_num_points_per_layer(
        s, num_layers=NUM_LAYERS, detector_config=g
    ),
    "energy_per_layer": lambda s, g: observables.calc_energy_per_layer(
        s, num_layers=NUM_LAYERS, detector_config=g
    ),
    "energy_per_radial_bin": lambda s, g: observables.calc_energy_per_radial_bin(
        s, detector_config=g
    ),
    "center_of_energy": lambda s, g: observables.calc_center_of_energy(
        s, detector_config=g
    ),
}


def in_forms(memory: Showers, path: Path) -> dict[str, Showers]:
    """``memory`` in memory and lazy in three chunkings (one read from a file)."""
    showerdata.save(memory, path)
    return {
        "memory": memory,
        "chunk-7": memory.chunk(7),
        "chunk-16": memory.chunk(16),
        "load-11": showerdata.load(path, chunks=11),
    }


def check_form(result, form: str) -> None:
    lazy = result.is_lazy if isinstance(result, Showers) else hasattr(result, "dask")
    assert lazy == (form != "memory"), f"{form} input gave lazy={lazy}"


def as_v07_showers(inputs: dict, points: np.ndarray) -> dict:
    """The fields of ``showerdata.Showers(points, **inputs)`` as 0.7 builds them.

    0.7's operations return new points with the other fields copied, and its
    constructor counts ``num_points`` as the points with non-zero energy.
    """
    num_points = np.count_nonzero(points[:, :, 3], axis=1).astype(np.int32)
    return {**inputs, "points": points, "num_points": num_points}


def zero_padding(points: np.ndarray) -> np.ndarray:
    """0.7's shifted points with its padding rows zeroed, as ours are.

    0.7's ``shift_layers`` shifts the padding rows (e == 0) like real points,
    leaving stray x and y behind the real ones; ours keeps zero padding (see
    ``test_kernels_processing.test_shift_matches_v07``). Real points must agree.
    """
    points = points.copy()
    points[points[..., 3] == 0] = 0
    return points


def assert_threshold_split(points: np.ndarray, cuts: dict) -> None:
    """The data can tell the ECAL threshold from the HCAL one (checks the test).

    In each calorimeter some points are below both thresholds, some between
    them and some above both, so swapping them changes which points are kept.
    """
    low, high = sorted((cuts["ecal_threshold"], cuts["hcal_threshold"]))
    assert low < high, "the thresholds must differ"
    energy = points[:, :, 3]
    ecal = points[:, :, 2] < cuts["num_layers_ecal"] - 0.5
    real = energy > 0
    for name, part in (("ECAL", ecal & real), ("HCAL", ~ecal & real)):
        e = energy[part]
        assert (e < low).any(), f"no {name} point below both thresholds"
        assert ((e >= low) & (e < high)).any(), f"no {name} point between them"
        assert (e >= high).any(), f"no {name} point above both thresholds"


# ---------------------------------------------------------------------------
# The committed 0.7 outputs of a fixed block of 40 showers
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def block(tmp_path_factory):
    """(0.7 reference arrays, input fields, input in every form)."""
    reference = {
        name: dict(np.load(PROCESSING / f"{name}.npz"))
        for name in ("input", "filter", "cluster", "observables", "shift")
    }
    points = reference["input"]["points"]
    n = len(points)
    # As make_processing_reference_v07.py built its Showers.
    inputs = {
        "energies": np.ones((n, 1), dtype=np.float32),
        "pdg": np.full(n, 22, dtype=np.int32),
        "directions": reference["input"]["directions"],
        "shower_ids": np.arange(n, dtype=np.int32),
    }
    assert len(np.unique(inputs["directions"], axis=0)) > n // 2
    memory = Showers(points=points, **{k: v.copy() for k, v in inputs.items()})
    directory = tmp_path_factory.mktemp("block")
    return reference, inputs, in_forms(memory, directory / "block.h5")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("case", ["ild", "loose"])
def test_filter_matches_v07(block, case, form):
    reference, inputs, showers = block
    cuts = {
        key: reference["filter"][f"{case}_{key}"].item()
        for key in ("radius", "ecal_threshold", "hcal_threshold", "num_layers_ecal")
    }
    if cuts["hcal_threshold"] > 0:
        assert_threshold_split(reference["input"]["points"], cuts)
    result = showerdata.filter_showers(showers[form], **cuts)
    check_form(result, form)
    assert_showers_equal(
        result.compute(), as_v07_showers(inputs, reference["filter"][case])
    )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("geometry", ["ild", "test"])
def test_cluster_matches_v07(block, geometry, form):
    reference, inputs, showers = block
    config = {"ild": get_ILD_geometry(), "test": get_test_geometry(NUM_LAYERS)}
    result = showerdata.cluster(
        showers[form], random_shift=False, detector_config=config[geometry]
    )
    check_form(result, form)
    assert_showers_equal(
        result.compute(), as_v07_showers(inputs, reference["cluster"][geometry])
    )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_shift_matches_v07(block, direction, form):
    reference, inputs, showers = block
    result = showerdata.shift(showers[form], inverse=direction == "inverse")
    check_form(result, form)
    expected = zero_padding(reference["shift"][direction])
    assert_showers_equal(result.compute(), as_v07_showers(inputs, expected))


@pytest.mark.parametrize("form", ["memory", "chunk-7"])
@pytest.mark.parametrize(
    "operation", ["filter-ild", "cluster-ild", "cluster-test", "shift-forward"]
)
def test_four_feature_showers_match_v07(block, operation, form):
    # make_processing_reference_v07.py checked that 0.7's results for
    # points[..., :4] are its stored results without the time column.
    reference, inputs, _ = block
    data = Showers(points=reference["input"]["points"][..., :4], **inputs)
    data = data.chunk(7) if form == "chunk-7" else data
    kind, case = operation.split("-")
    if kind == "filter":
        cuts = {
            key: reference["filter"][f"{case}_{key}"].item()
            for key in ("radius", "ecal_threshold", "hcal_threshold", "num_layers_ecal")
        }
        result = showerdata.filter_showers(data, **cuts)
    elif kind == "cluster":
        config = {"ild": get_ILD_geometry(), "test": get_test_geometry(NUM_LAYERS)}
        result = showerdata.cluster(data, False, config[case])
    else:
        result = showerdata.shift(data)
    check_form(result, form)
    expected = reference[kind][case][..., :4]
    expected = zero_padding(expected) if kind == "shift" else expected
    assert_showers_equal(result.compute(), as_v07_showers(inputs, expected))


@pytest.fixture(scope="module")
def clustered_block(block, tmp_path_factory):
    """0.7's ILD clustering of the block, as input in every form."""
    reference, inputs, _ = block
    memory = Showers(points=reference["cluster"]["ild"], **inputs)
    directory = tmp_path_factory.mktemp("clustered")
    return in_forms(memory, directory / "clustered.h5")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("case", ["none", "ild", "test", "clustered_ild"])
def test_observables_match_v07(block, clustered_block, case, form):
    reference, _, showers = block
    geometry = {
        "none": None,
        "ild": get_ILD_geometry(),
        "test": get_test_geometry(NUM_LAYERS, threshold=0.5),
        "clustered_ild": get_ILD_geometry(),
    }[case]
    data = (clustered_block if case == "clustered_ild" else showers)[form]
    expected = reference["observables"]
    for name, function in OBSERVABLE_FUNCTIONS.items():
        result = function(data, geometry)
        check_form(result, form)
        reference = expected[f"{case}/{name}"]
        # A lazy result declares its dtype and shape before computing: they
        # must be those of the values it computes.
        assert (result.dtype, result.shape) == (reference.dtype, reference.shape)
        assert_arrays_equal(result, reference, f"{case}/{name}")
    custom = observables.calc_energy_per_radial_bin(
        data, bin_edges=expected["custom_radial_edges"], detector_config=geometry
    )
    assert_arrays_equal(
        custom, expected[f"{case}/energy_per_radial_bin_custom"], "custom bins"
    )


# ---------------------------------------------------------------------------
# 0.7 computed live on toy showers with varied directions
# ---------------------------------------------------------------------------


def _custom_geometry() -> DetectorGeometry:
    """A geometry unlike ILD and the test geometry in every field ops read."""
    ecal = 160.0 + 8.0 * np.arange(22)
    hcal = 160.0 + 176.0 + 20.0 * np.arange(56)
    return DetectorGeometry(
        calo_surface=160.0,
        num_layers=NUM_LAYERS,
        num_layers_ecal=22,
        num_layers_hcal=56,
        layer_thickness_ecal=0.8,
        layer_thickness_hcal=2.0,
        ecal_cell_size=7.5,
        hcal_cell_size=22.0,
        layer_bottom_pos=tuple(np.concatenate([ecal, hcal]).tolist()),
        ecal_threshold=0.25,
        hcal_threshold=0.7,
        name="Custom",
    )


GEOMETRIES = {
    "ild": get_ILD_geometry(),
    "ild_unclustered": get_ILD_unclustered_geometry(),
    "test": get_test_geometry(NUM_LAYERS, threshold=0.3),
    "custom": _custom_geometry(),
}
FILTERS = {
    # ECAL threshold below the HCAL one, and the other way round.
    "ecal_lower": dict(
        radius=90.0, ecal_threshold=2e-4, hcal_threshold=6e-4, num_layers_ecal=30
    ),
    "hcal_lower": dict(ecal_threshold=9e-4, hcal_threshold=1.5e-4, num_layers_ecal=25),
}
SPEC = {
    "geometries": {"custom": dataclasses.asdict(GEOMETRIES["custom"])},
    "filters": FILTERS,
    "cluster": ["ild", "test", "custom"],
    "shift": ["ild", "custom"],
    "observables": ["none", "ild", "test", "custom"],
    "radial_bin_edges": np.linspace(0.0, 150.0, 16).tolist(),
    "read_range": [5, 40],
    "add_observables": {
        "default": {},
        "clustered_for_ild": {"clustered_for": "ILD"},
        "custom": {"detector_config": "custom"},
    },
}


def toy_input() -> dict[str, np.ndarray]:
    """48 toy showers, photons then pions, inclined up to 0.6 rad."""
    options = dict(seed=3, max_points=160, energy_range=(2.0, 12.0), angle_spread=0.6)
    photons = toy_arrays(0, 24, pdg=22, **options)
    pions = toy_arrays(24, 48, pdg=-211, **options)
    return {k: np.concatenate([photons[k], pions[k]]) for k in photons}


@pytest.fixture(scope="module")
def live(v07, tmp_path_factory):
    """(0.7 outputs, 0.7's summary, input file, input fields, input in every form)."""
    directory = tmp_path_factory.mktemp("live")
    inputs = toy_input()
    directions = inputs["directions"]
    assert len(np.unique(directions, axis=0)) == len(directions)
    assert (np.abs(directions[:, :2]) > 0.05).any(axis=1).mean() > 0.5
    forms = in_forms(Showers(**inputs), directory / "toy.h5")
    spec = directory / "spec.json"
    spec.write_text(json.dumps(SPEC))
    outdir = directory / "v07"
    outdir.mkdir()
    summary = v07(
        (FIXTURES / "ops_reference_v07.py").read_text(),
        str(directory / "toy.h5"),
        str(spec),
        str(outdir),
    )
    reference = dict(np.load(outdir / "reference.npz"))
    return reference, summary, directory / "toy.h5", inputs, forms


def v07_showers(reference: dict, case: str) -> dict:
    return {name: reference[f"{case}/{name}"] for name in Showers.FIELDS}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("case", FILTERS)
def test_filter_of_toy_showers_matches_v07(live, case, form):
    reference, _, _, inputs, showers = live
    assert_threshold_split(inputs["points"], {"radius": np.inf, **FILTERS[case]})
    result = showerdata.filter_showers(showers[form], **FILTERS[case])
    check_form(result, form)
    expected = v07_showers(reference, f"filter-{case}")
    assert_showers_equal(result.compute(), expected)
    # the case keeps some points and drops others in both calorimeters
    assert 0 < expected["num_points"].sum() < inputs["num_points"].sum()


def chunked_like(inputs: dict, chunk_showers: int):
    """Config under which ``load`` gives chunks of ``chunk_showers`` toy showers."""
    per_shower = inputs["points"][0].nbytes
    return dask.config.set({"showerdata.chunk-bytes": chunk_showers * per_shower})


@pytest.mark.parametrize("chunk_showers", [7, 20])
@pytest.mark.parametrize("case", FILTERS)
def test_filter_file_matches_v07(live, case, chunk_showers, tmp_path):
    reference, _, path, inputs, _ = live
    out = tmp_path / "filtered.h5"
    with chunked_like(inputs, chunk_showers):
        assert showerdata.load(path).chunks[0] == chunk_showers
        filter_file(path, out, **FILTERS[case])
    assert_showers_equal(
        showerdata.load(out).compute(),
        v07_showers(reference, f"filter_file-{case}"),
    )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("geometry", SPEC["cluster"])
def test_cluster_of_toy_showers_matches_v07(live, geometry, form):
    reference, _, _, _, showers = live
    result = showerdata.cluster(
        showers[form], random_shift=False, detector_config=GEOMETRIES[geometry]
    )
    check_form(result, form)
    assert_showers_equal(
        result.compute(), v07_showers(reference, f"cluster-{geometry}")
    )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("direction", ["forward", "inverse"])
@pytest.mark.parametrize("geometry", SPEC["shift"])
def test_shift_of_toy_showers_matches_v07(live, geometry, direction, form):
    reference, _, _, inputs, showers = live
    result = showerdata.shift(
        showers[form],
        inverse=direction == "inverse",
        detector_config=GEOMETRIES[geometry],
    )
    check_form(result, form)
    expected = v07_showers(reference, f"shift-{geometry}-{direction}")
    expected["points"] = zero_padding(expected["points"])
    assert_showers_equal(result.compute(), expected)
    # the shift moves the points of inclined showers
    moved = expected["points"][:, :, :2] != inputs["points"][:, :, :2]
    assert moved.any(axis=(1, 2)).sum() > len(moved) // 2


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("geometry", SPEC["observables"])
def test_observables_of_toy_showers_match_v07(live, geometry, form):
    reference, _, _, _, showers = live
    config = None if geometry == "none" else GEOMETRIES[geometry]
    case = f"observables-{geometry}"
    for name, function in OBSERVABLE_FUNCTIONS.items():
        result = function(showers[form], config)
        check_form(result, form)
        assert_arrays_equal(result, reference[f"{case}/{name}"], f"{case}/{name}")
    custom = observables.calc_energy_per_radial_bin(
        showers[form], bin_edges=SPEC["radial_bin_edges"], detector_config=config
    )
    check_form(custom, form)
    expected = reference[f"{case}/energy_per_radial_bin_custom"]
    assert_arrays_equal(custom, expected, f"{case}/custom bins")


@pytest.mark.parametrize("chunk_showers", [7, 20])
@pytest.mark.parametrize("case", SPEC["add_observables"])
def test_add_observables_to_file_matches_v07(live, case, chunk_showers, tmp_path):
    reference, summary, path, inputs, _ = live
    options = SPEC["add_observables"][case]
    copy = tmp_path / "observables.h5"
    shutil.copyfile(path, copy)
    if options.get("clustered_for"):
        showerdata.add_metadata(copy, {"clustered_for": options["clustered_for"]})
    geometry = options.get("detector_config")
    with chunked_like(inputs, chunk_showers):
        assert showerdata.load(copy).chunks[0] == chunk_showers
        observables.add_observables_to_file(
            copy, detector_config=None if geometry is None else GEOMETRIES[geometry]
        )
    assert (
        showerdata.load_metadata(copy)["observables_computed_for"]
        == summary["computed_for"][case]
    )
    read = observables.read_observables_from_file(copy)
    for name in OBSERVABLE_FUNCTIONS:
        expected = reference[f"add_observables-{case}/{name}"]
        assert_arrays_equal(read[name], expected, f"{case}/{name}")
    # what 0.7 reads back from its file, derived sums included
    start, stop = SPEC["read_range"]
    prefix = f"read_observables-{case}/"
    expected = {
        k[len(prefix) :]: v for k, v in reference.items() if k.startswith(prefix)
    }
    read = observables.read_observables_from_file(copy, start=start, stop=stop)
    assert sorted(read) == sorted(expected)
    for name, values in expected.items():
        assert_arrays_equal(read[name], values, f"read {case}/{name}")


def test_read_point_energies_matches_v07(live):
    reference, _, path, _, _ = live
    energies = observables.read_point_energies(path, *SPEC["read_range"])
    assert_arrays_equal(energies, reference["point_energies"], "point energies")
