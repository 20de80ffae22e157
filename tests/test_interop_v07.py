"""Files are interchangeable with showerdata 0.7.0, bit for bit, both ways."""

from __future__ import annotations

import dask
import h5py
import numpy as np
import pytest
import v07_cases
from conftest import FIXTURES, assert_showers_equal

import showerdata

#: Every test here runs with each HDF5 row reader.
pytestmark = pytest.mark.usefixtures("hdf5_reader")

SHOWER_CASES = ["f4", "f5", "with_empty", "metadata", "target", "empty_file"]


@pytest.mark.parametrize("case", SHOWER_CASES)
def test_reads_files_written_by_v07_exactly(case):
    expected = v07_cases.get_case(case)
    showers = showerdata.load(FIXTURES / "v07" / f"{case}.h5")
    assert showers.is_lazy
    assert_showers_equal(showers.compute(), expected)


def test_reads_a_file_filled_by_v07_save_batch():
    expected = v07_cases.get_case("batched")
    showers = showerdata.load(FIXTURES / "v07" / "batched.h5").compute()
    assert_showers_equal(showers, expected)


def test_reads_v07_targets_incident_particles_and_metadata():
    case = v07_cases.get_case("target")
    for key in v07_cases.TARGET_KEYS:
        points, num_points = showerdata.load_target(FIXTURES / "v07" / "target.h5", key)
        np.testing.assert_array_equal(points.compute(), case[f"{key}/points"])
        np.testing.assert_array_equal(num_points.compute(), case[f"{key}/num_points"])

    particles_case = v07_cases.get_case("inc_only")
    particles = showerdata.load_inc_particles(FIXTURES / "v07" / "inc_only.h5")
    for name in ("energies", "pdg", "directions"):
        assert getattr(particles.compute(), name).tobytes() == (
            particles_case[name].tobytes()
        )

    metadata = showerdata.load_metadata(FIXTURES / "v07" / "metadata.h5")
    assert metadata["showerdata_version"] == "0.7.0"
    for key, value in v07_cases.METADATA.items():
        assert metadata[key] == value


def _datasets(path):
    """Every dataset of a file as {name: (dtype, values)}; vlen rows as bytes."""
    found = {}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            values = item[()]
            if h5py.check_vlen_dtype(item.dtype) is not None:
                values = [row.tobytes() for row in values]
            found[name] = (item.dtype, values)

    with h5py.File(path, "r") as file:
        file.visititems(visit)
    return found


@pytest.mark.parametrize("case", ["f4", "f5", "with_empty", "empty_file"])
@pytest.mark.parametrize("lazy", [False, True])
def test_writes_the_same_datasets_as_v07(tmp_path, case, lazy):
    """Rewriting a 0.7 file gives the same datasets, values and dtypes.

    ``shape`` included: int64, as 0.7's ``save`` wrote it (its
    ``create_empty_file`` wrote int32, see ``test_v07_scripts``).
    """
    source = FIXTURES / "v07" / f"{case}.h5"
    showers = showerdata.load(source, chunks=2)
    if not lazy:
        showers = showers.compute()
    showerdata.save(showers, tmp_path / "ours.h5")
    ours, theirs = _datasets(tmp_path / "ours.h5"), _datasets(source)
    assert ours.keys() == theirs.keys()
    for name, (dtype, values) in theirs.items():
        assert ours[name][0] == dtype, name
        if isinstance(values, list):
            assert ours[name][1] == values, name
        else:
            assert ours[name][1].tobytes() == values.tobytes(), name


READ_WITH_V07 = """
import json, sys
import numpy as np
import showerdata
path = sys.argv[1]
s = showerdata.load(path)
out = {name: np.asarray(getattr(s, name)).tobytes().hex() for name in
       ("points", "energies", "pdg", "directions", "shower_ids", "_num_points")}
out["shape"] = list(s.points.shape)
out["file_shape"] = list(showerdata.get_file_shape(path))
with showerdata.ShowerDataFile(path) as f:
    out["row_2"] = f[2].points.tobytes().hex()
if len(sys.argv) > 2:
    t, n = showerdata.load_target(path, sys.argv[2])
    out["target"] = t.tobytes().hex()
    out["target_num_points"] = n.tolist()
    out["metadata"] = {k: str(v) for k, v in
                       showerdata.core.load_metadata(path).items()}
print(json.dumps(out))
"""


@pytest.mark.parametrize("num_features", [4, 5])
@pytest.mark.parametrize("lazy", [False, True])
def test_v07_reads_files_we_write_exactly(
    tmp_path, v07, make_showers, num_features, lazy
):
    showers = make_showers(n=23, max_points=30, num_features=num_features)
    showers.points[4] = 0  # a shower without points
    showers.num_points[4] = 0
    if lazy:
        showers = showers.chunk(5)
    path = tmp_path / "ours.h5"
    showerdata.save(showers, path)
    target = np.random.default_rng(3).random((23, 7, 3), dtype=np.float32)
    target_counts = np.arange(23, dtype=np.int32) % 8
    showerdata.save_target(target, path, num_points=target_counts, name="latent")
    showerdata.add_metadata(path, {"generator": "toy", "seed": 3})

    got = v07(READ_WITH_V07, str(path), "latent")
    memory = showers.compute()
    for name in ("points", "energies", "pdg", "directions", "shower_ids"):
        assert bytes.fromhex(got[name]) == getattr(memory, name).tobytes(), name
    assert bytes.fromhex(got["_num_points"]) == memory.num_points.tobytes()
    assert got["shape"] == [23, 30, num_features]
    assert got["file_shape"] == [23, 30, num_features]
    assert bytes.fromhex(got["row_2"]) == memory.points[2:3].tobytes()
    expected_target = target.copy()
    for row, count in enumerate(target_counts):
        expected_target[row, count:] = 0
    assert bytes.fromhex(got["target"]) == expected_target.tobytes()
    assert got["target_num_points"] == target_counts.tolist()
    assert got["metadata"]["generator"] == "toy"
    assert got["metadata"]["seed"] == "3"


FILL_WITH_V07_READ = """
import json, sys
import showerdata
s = showerdata.load_inc_particles(sys.argv[1])
print(json.dumps({"energies": s.energies.tobytes().hex(), "pdg": s.pdg.tolist(),
                  "length": showerdata.get_file_length(sys.argv[1])}))
"""


def test_v07_reads_incident_particles_and_batched_files(tmp_path, v07, make_showers):
    showers = make_showers(n=12, max_points=9, num_features=5)
    particles_path = tmp_path / "particles.h5"
    showers.inc_particles.save(particles_path)
    got = v07(FILL_WITH_V07_READ, str(particles_path))
    assert bytes.fromhex(got["energies"]) == showers.energies.tobytes()
    assert got["pdg"] == showers.pdg.tolist()
    assert got["length"] == 12

    batched = tmp_path / "batched.h5"
    showerdata.create_empty_file(batched, (12, 9, 5))
    showerdata.save_batch(showers[:5].chunk(2), batched, start=0)
    showerdata.save_batch(showers[5:], batched, start=5)
    got = v07(READ_WITH_V07, str(batched))
    assert bytes.fromhex(got["points"]) == showers.points.tobytes()


#: Fills a target batch by batch; ``path`` is given.
TARGET_BATCHES = """
import numpy as np
import showerdata

target = (np.arange(10 * 6 * 3).reshape(10, 6, 3) * 0.37 % 5).astype(np.float32)
counts = (np.arange(10) * 5 % 7).astype(np.int32)
showerdata.create_empty_file(path, (10, 6, 4))
showerdata.add_target_dataset(path, (10, 6, 3))
showerdata.save_target_batch(target[:4], path, counts[:4])
showerdata.save_target_batch(target[4:], path, counts[4:], start=4)
"""


def _dataset_contents(path) -> dict:
    found = {}
    with h5py.File(path) as file:

        def visit(name, item):
            if isinstance(item, h5py.Dataset):
                values = item[()]
                if item.dtype.kind == "O":  # vlen rows
                    values = [np.asarray(row).tobytes() for row in values]
                else:
                    values = values.tobytes()
                found[name] = (str(item.dtype), item.shape, values)

        file.visititems(visit)
    return found


def test_a_target_written_in_batches_equals_v07s(v07, tmp_path):
    theirs, ours = tmp_path / "v07.h5", tmp_path / "ours.h5"
    v07(f"import sys; path = sys.argv[1]\n{TARGET_BATCHES}\nprint('{{}}')", str(theirs))
    # Small chunks, so each batch is written in several blocks.
    with dask.config.set({"showerdata.chunk-bytes": 200}):
        exec(TARGET_BATCHES, {"path": str(ours)})
    expected = _dataset_contents(theirs)
    assert "target/point_clouds" in expected
    assert _dataset_contents(ours) == expected
