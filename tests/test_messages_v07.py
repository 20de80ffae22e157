"""Bad input gets 0.7.0's exception, with 0.7.0's words first and ours after.

Each case runs in showerdata 0.7.0's interpreter and in ours. Where 0.7.0 raised,
we raise the same type, and our message starts with 0.7.0's (a 0.7 program that
matches on the text keeps working), followed by a detail that names the field
and both shapes; those details are written out here by hand.
"""

from __future__ import annotations

import builtins
import json

import dask.array as da
import h5py
import numpy as np
import pytest

import showerdata
from showerdata import IncidentParticles, Showers

#: Names both interpreters give the code of a case.
PRELUDE = """
import os
import h5py
import numpy as np
import showerdata
from showerdata import IncidentParticles, Showers

N, P = 4, 3


def pts(f=4):
    x = np.zeros((N, P, f), np.float32)
    x[:, 0, 3] = 1.0
    return x


E = np.ones((N, 1), np.float32)
T = np.ones((2, 3, 2), np.float32)


def h5(name, **datasets):
    path = os.path.join(WORK, name)
    with h5py.File(path, "w") as file:
        for key, value in datasets.items():
            if value is None:
                file.create_group(key)
            else:
                file[key] = value
    return path
"""

#: case -> (code, the detail our message adds after 0.7.0's, by hand).
CASES = {
    "showers energies too long": (
        "Showers(pts(), np.ones((N + 1, 1)), 22)",
        "(energies must have shape (4, 1), got (5, 1).)",
    ),
    "showers energies of two columns": (
        "Showers(pts(), np.ones((N, 2)), 22)",
        "(energies must have shape (4, 1), got (4, 2).)",
    ),
    "showers directions of two columns": (
        "Showers(pts(), E, 22, directions=np.ones((N, 2)))",
        "(directions must have shape (4, 3), got (4, 2).)",
    ),
    "showers pdg too long": (
        "Showers(pts(), E, np.ones(N + 1, int))",
        "(pdg must have shape (4,), got (5,).)",
    ),
    "showers ids too short": (
        "Showers(pts(), E, 22, shower_ids=np.arange(N - 1))",
        "(shower_ids must have shape (4,), got (3,).)",
    ),
    "showers num_points too long": (
        "Showers(pts(), E, 22, num_points=np.ones(N + 1, int))",
        "(num_points must have shape (4,), got (5,).)",
    ),
    "particles energies 1d": (
        "IncidentParticles(np.ones(3), 22)",
        "(energies must be a 2D array with shape (N, 1), got (3,).)",
    ),
    "particles energies of two columns": (
        "IncidentParticles(np.ones((3, 2)), 22)",
        "(energies must be a 2D array with shape (N, 1), got (3, 2).)",
    ),
    "particles pdg too short": (
        "IncidentParticles(np.ones((3, 1)), [1, 2])",
        "(pdg must have shape (3,), got (2,).)",
    ),
    "particles pdg 2d": (
        "IncidentParticles(np.ones((3, 1)), np.ones((3, 1), int))",
        "(got shape (3, 1))",
    ),
    "particles directions of two columns": (
        "IncidentParticles(np.ones((3, 1)), 22, np.ones((3, 2)))",
        "(directions must be a 2D array with shape (N, 3), got (3, 2).)",
    ),
    "particles directions too short": (
        "IncidentParticles(np.ones((3, 1)), 22, np.ones((2, 3)))",
        "(directions must have shape (3, 3), got (2, 3).)",
    ),
    "add a number": ("Showers(pts(), E, 22) + 5", "(got int)"),
    "add other features": (
        "Showers(pts(), E, 22) + Showers(pts(5), E, 22)",
        "(cannot concatenate showers with different numbers of features [4, 5])",
    ),
    "file without shape": (
        "showerdata.get_file_shape(h5('s1.h5', points=np.ones(2)))",
        "dataset 'shape' of file 'WORK/s1.h5': no shape key",
    ),
    "shape is a group": (
        "showerdata.get_file_shape(h5('s2.h5', shape=None))",
        "dataset 'shape' of file 'WORK/s2.h5': shape is not a dataset",
    ),
    "shape of floats": (
        "showerdata.get_file_shape(h5('s3.h5', shape=np.ones(3)))",
        "dataset 'shape' of file 'WORK/s3.h5': invalid shape dataset",
    ),
    "shape of two": (
        "showerdata.get_file_shape(h5('s4.h5', shape=np.ones(2, int)))",
        "dataset 'shape' of file 'WORK/s4.h5': invalid shape dataset",
    ),
    "shape of one row of three": (
        "showerdata.get_file_shape(h5('s5.h5', shape=np.ones((1, 3), int)))",
        "dataset 'shape' of file 'WORK/s5.h5': invalid shape dataset",
    ),
    "length without energies": (
        "showerdata.get_file_length(h5('l1.h5', points=np.ones(2)))",
        "Key 'energies' not found in HDF5 file. (file 'WORK/l1.h5': dataset "
        "'energies' not found: not a showerdata file, or written without it)",
    ),
    "length of a group": (
        "showerdata.get_file_length(h5('l2.h5', energies=None))",
        "file 'WORK/l2.h5', dataset 'energies': expected a dataset, found a group",
    ),
    "target with a negative count": (
        "showerdata.save_target(T, os.path.join(WORK, 't1.h5'), np.array([1, -1]))",
        "",
    ),
    "target with a count above P": (
        "showerdata.save_target(T, os.path.join(WORK, 't2.h5'), np.array([1, 4]))",
        "",
    ),
    "target added twice": (
        "p = os.path.join(WORK, 't3.h5'); showerdata.create_empty_file(p, (2, 3, 4));"
        " showerdata.add_target_dataset(p, (2, 3, 2));"
        " showerdata.add_target_dataset(p, (2, 3, 2))",
        "",
    ),
    "target batch with a count above P": (
        "p = os.path.join(WORK, 't4.h5'); showerdata.create_empty_file(p, (2, 3, 4));"
        " showerdata.add_target_dataset(p, (2, 3, 2));"
        " showerdata.save_target_batch(T, p, np.array([4, 1]))",
        "",
    ),
    "target batch with a negative count": (
        "p = os.path.join(WORK, 't5.h5'); showerdata.create_empty_file(p, (2, 3, 4));"
        " showerdata.add_target_dataset(p, (2, 3, 2));"
        " showerdata.save_target_batch(T, p, np.array([1, -2]), start=0)",
        "",
    ),
    "target of two dimensions": (
        "showerdata.save_target(T[0], os.path.join(WORK, 't6.h5'), np.array([1, 1]))",
        "(got shape (3, 2))",
    ),
    "target without counts for a new file": (
        "showerdata.save_target(T, os.path.join(WORK, 't7.h5'))",
        "",
    ),
    "target counts of another length": (
        "showerdata.save_target(T, os.path.join(WORK, 't8.h5'), np.array([1, 1, 1]))",
        "(3 != 2)",
    ),
}

#: Runs every case and prints (exception type, message) by case, with the work
#: directory written as WORK.
RUNNER = (
    PRELUDE
    + """
import json, sys

WORK = sys.argv[2]
found = {}
for name, code in json.loads(sys.argv[1]).items():
    try:
        exec(code)
        found[name] = ["no error", ""]
    except Exception as error:
        found[name] = [type(error).__name__, str(error).replace(WORK, "WORK")]
print(json.dumps(found))
"""
)


@pytest.fixture(scope="module")
def v07_answers(v07, tmp_path_factory):
    codes = {name: code for name, (code, _) in CASES.items()}
    return v07(RUNNER, json.dumps(codes), str(tmp_path_factory.mktemp("v07")))


@pytest.mark.parametrize("case", CASES)
def test_the_error_is_v07s_then_ours(case, v07_answers, tmp_path):
    code, detail = CASES[case]
    kind, v07_message = v07_answers[case]
    assert kind != "no error", "0.7.0 accepted it: not a case for this test"
    names = {"WORK": str(tmp_path)}
    exec(PRELUDE, names)
    with pytest.raises(getattr(builtins, kind)) as raised:
        exec(code, names)
    message = str(raised.value).replace(str(tmp_path), "WORK")
    assert message == f"{v07_message} {detail}".strip()


def test_concatenating_other_features_is_a_value_error_as_in_v07(v07, tmp_path):
    # 0.7.0 let numpy's concatenate raise here; ours says which features differ.
    code = "showerdata.concatenate([Showers(pts(), E, 22), Showers(pts(5), E, 22)])"
    kind, _ = v07(RUNNER, json.dumps({"c": code}), str(tmp_path))["c"]
    assert kind == "ValueError"
    names = {"WORK": str(tmp_path)}
    exec(PRELUDE, names)
    with pytest.raises(ValueError, match=r"different numbers of features \[4, 5\]"):
        exec(code, names)


@pytest.mark.parametrize("shape", [(1, 2), (1, -2, 4), (3, 4, 5, 6)])
def test_create_empty_file_refuses_a_shape_that_is_not_n_p_f(tmp_path, shape):
    # 0.7.0 wrote such files, which no reader could open; we refuse them.
    path = tmp_path / "empty.h5"
    with pytest.raises(ValueError) as raised:
        showerdata.create_empty_file(path, shape)
    assert str(raised.value) == (
        f"shape must be 3 non-negative integers (N, P, F), got {shape}."
    )
    assert not path.exists()


def test_create_empty_file_takes_zero_sizes(tmp_path):
    path = tmp_path / "empty.h5"
    showerdata.create_empty_file(path, (0, 0, 4))
    with h5py.File(path) as file:
        assert list(file["shape"][:]) == [0, 0, 4]


def test_metadata_that_hdf5_cannot_hold_is_named(tmp_path):
    path = tmp_path / "m.h5"
    points = np.zeros((2, 3, 4), np.float32)
    Showers(points, np.ones((2, 1)), 22).save(path)
    with pytest.raises(TypeError) as raised:
        showerdata.add_metadata(path, {"run": 7, "tags": ["a", "b"]})
    assert str(raised.value) == (
        "metadata 'tags' must be str, int, float or bool, not list."
    )
    assert "tags" not in showerdata.load_metadata(path)


def test_default_fields_have_v07_dtypes():
    particles = IncidentParticles(np.ones((3, 1)), 22)
    assert particles.directions.dtype == np.float32
    assert particles.pdg.dtype == np.int32
    showers = Showers(np.zeros((3, 2, 4), np.float32), np.ones((3, 1)), 22)
    assert showers.directions.dtype == np.float32


def test_a_header_that_contradicts_the_data_is_named_with_v07s_words(tmp_path):
    # 0.7.0 returned the contradicting shape; we refuse the file, with 0.7's
    # words for an invalid file first and the file and dataset kept.
    path = tmp_path / "liar.h5"
    Showers(np.ones((3, 2, 4), np.float32), np.ones((3, 1)), 22).save(path)
    with h5py.File(path, "a") as file:
        file["shape"][0] = 5
    with pytest.raises(showerdata.ShowerDataError) as raised:
        showerdata.get_file_shape(path)
    error = raised.value
    assert isinstance(error, ValueError)  # what 0.7 programs catch
    assert (error.path, error.dataset) == (str(path), "showers")
    assert str(error) == (
        f"{path} is not a valid shower data file. (invalid showers) file "
        f"'{path}', dataset 'showers': has 3 rows but 'shape' says 5 showers"
    )


def test_locate_of_showers_from_no_file_says_why(tmp_path):
    showers = Showers(np.ones((3, 2, 4), np.float32), np.ones((3, 1)), 22)
    with pytest.raises(ValueError) as raised:
        showers.locate(0)
    assert str(raised.value) == (
        "these showers come from no file (they were built in memory or by an "
        "operation that may drop or reorder rows); locate() needs showers opened "
        "with load()."
    )


@pytest.mark.parametrize("lazy_target", [True, False])
@pytest.mark.parametrize(("counts", "bad"), [([1, -1, 2], -1), ([1, 2, 4], 4)])
def test_lazy_target_counts_are_checked_when_written(
    tmp_path, counts, bad, lazy_target
):
    path = tmp_path / "target.h5"
    target = np.ones((3, 3, 2), dtype=np.float32)
    if lazy_target:
        target = da.from_array(target, chunks=2)
    with pytest.raises(showerdata.ShowerDataError) as raised:
        showerdata.save_target(target, path, da.from_array(np.array(counts), 2))
    assert raised.value.dataset == "num_points"
    assert f"num_points = {bad} is outside 0..3" in str(raised.value)
    assert not path.exists()


def test_a_failed_target_leaves_an_existing_file_as_it_was(tmp_path):
    path = tmp_path / "showers.h5"
    showers = Showers(np.ones((3, 2, 4), np.float32), np.ones((3, 1)), 22)
    showers.save(path)
    target = da.ones((3, 3, 2), dtype=np.float32, chunks=2)
    with pytest.raises(showerdata.ShowerDataError):
        showerdata.save_target(target, path, da.from_array(np.array([1, 5, 1]), 2))
    with h5py.File(path) as file:
        assert sorted(file) == [
            "directions",
            "energies",
            "num_points",
            "pdg",
            "shape",
            "shower_ids",
            "showers",
        ]
    assert showerdata.load(path).compute() == showers
