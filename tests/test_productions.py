"""Productions of many files: load of a glob, list, directory or index file.

Expected values come from the files read one by one and concatenated with
numpy, never from the production code path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import dask
import h5py
import numpy as np
import pytest
from test_bad_inputs import BAD, DATASETS, WRONG_LAYOUT, edit_point, replace_dataset
from test_bad_inputs import N as BAD_N

import showerdata
from showerdata.cli import main
from showerdata.errors import MissingDataError, ShowerDataError
from showerdata.io.datafile import ShowerDataFile
from showerdata.io.index import write_index
from showerdata.io.production_rows import ProductionRows
from showerdata.toy import toy_arrays, toy_showers

# name, number of showers, P: out of natural order on purpose; one zarr, one empty.
LAYOUT = [
    ("part-10.zarr", 9, 35),
    ("part-2.h5", 7, 20),
    ("part-1.h5", 6, 12),
    ("part-3.h5", 0, 10),
]
NATURAL = ["part-1.h5", "part-2.h5", "part-3.h5", "part-10.zarr"]


def _arrays(n: int, p: int, seed: int, features: int = 4) -> dict[str, np.ndarray]:
    return toy_arrays(0, n, seed=seed, max_points=p, num_features=features)


@pytest.fixture
def production(tmp_path):
    """A directory of four files; returns (directory, {name: in-memory Showers})."""
    single = {}
    for seed, (name, n, p) in enumerate(LAYOUT):
        path = tmp_path / name
        if n:
            showers = showerdata.Showers(**_arrays(n, p, seed))
            showers.save(path)
        else:
            showerdata.create_empty_file(path, (0, p, 4))
        showerdata.add_metadata(path, {"campaign": "test", "part": seed})
        single[name] = showerdata.load(path).compute()
    return tmp_path, single


def _expected(single: dict, names: list[str], width: int) -> dict[str, np.ndarray]:
    """Fields of the named files concatenated with numpy, points padded to width."""
    fields = {}
    for field in showerdata.Showers.FIELDS:
        parts = []
        for name in names:
            values = getattr(single[name], field)
            if field == "points":
                pad = width - values.shape[1]
                values = np.pad(values, ((0, 0), (0, pad), (0, 0)))
            parts.append(values)
        fields[field] = np.concatenate(parts)
    return fields


def _assert_fields(showers, expected: dict[str, np.ndarray]) -> None:
    for field, values in expected.items():
        np.testing.assert_array_equal(getattr(showers, field), values, err_msg=field)


def test_glob_reads_files_in_natural_order_padded_to_largest_p(production):
    directory, single = production
    showers = showerdata.load(str(directory / "part-*"))
    assert showers.is_lazy
    assert showers.points.shape == (22, 35, 4)
    _assert_fields(showers.compute(), _expected(single, NATURAL, 35))


@pytest.mark.parametrize("form", ["directory", "list", "index"])
def test_every_form_gives_the_same_rows(production, form):
    directory, single = production
    if form == "directory":
        source = directory
    elif form == "list":
        source = [directory / name for name in NATURAL]
    else:
        source = str(directory / "prod.index.json")
        assert write_index(str(directory / "part-*"), source) == 4
    showers = showerdata.load(source)
    _assert_fields(showers.compute(), _expected(single, NATURAL, 35))


def test_list_keeps_the_order_given(production):
    directory, single = production
    names = ["part-10.zarr", "part-1.h5"]
    showers = showerdata.load([directory / n for n in names])
    _assert_fields(showers.compute(), _expected(single, names, 35))


def test_no_chunk_straddles_two_files(production):
    directory, _ = production
    showers = showerdata.load(str(directory / "part-*"), chunks=4)
    # files of 6, 7, 0, 9 showers cut at 4 within each file
    assert showers.chunks == (4, 2, 4, 3, 4, 4, 1)


def test_graph_computed_by_dask_equals_the_direct_read(production):
    directory, single = production
    showers = showerdata.load(str(directory / "part-*"), chunks=4)
    values = dask.compute(*showers._fields().values(), scheduler="threads")
    expected = _expected(single, NATURAL, 35)
    for field, value in zip(showers.FIELDS, values, strict=True):
        np.testing.assert_array_equal(value, expected[field], err_msg=field)


def test_start_stop_max_points_apply_to_the_whole_production(production):
    directory, single = production
    showers = showerdata.load(str(directory / "part-*"), 4, -3, max_points=15)
    expected = _expected(single, NATURAL, 35)
    np.testing.assert_array_equal(
        showers.points.compute(), expected["points"][4:-3, :15]
    )
    np.testing.assert_array_equal(
        showers.num_points.compute(), np.minimum(expected["num_points"][4:-3], 15)
    )
    np.testing.assert_array_equal(
        showers.energies.compute(), expected["energies"][4:-3]
    )


@pytest.mark.parametrize(
    "index",
    [
        7,
        -1,
        slice(3, 20, 4),
        [21, 0, 13, 6],
        slice(None, None, -1),
        np.random.default_rng(0).permutation(22),  # chunks gathered from files
    ],
)
def test_indexing_reads_the_selected_rows(production, index):
    directory, single = production
    showers = showerdata.load(str(directory / "part-*"))
    expected = _expected(single, NATURAL, 35)
    selected = showers[index]
    rows = np.arange(22)[index]
    rows = np.atleast_1d(rows)
    _assert_fields(selected.compute(), {k: v[rows] for k, v in expected.items()})
    graph = dask.compute(*selected._fields().values())
    for field, values in zip(selected.FIELDS, graph, strict=True):
        np.testing.assert_array_equal(values, expected[field][rows], err_msg=field)


def test_one_shower_reads_one_file(production):
    directory, _ = production
    showers = showerdata.load(str(directory / "part-*"))
    one = showers[15]  # the third shower of part-10.zarr
    tasks = [
        value for value in dict(one.points.dask).values() if isinstance(value, tuple)
    ]
    plans = [arg for task in tasks for arg in task[1:] if hasattr(arg, "parts")]
    files = {part.entry.name for plan in plans for part in plan.parts}
    assert files == {str(directory / "part-10.zarr")}


def test_sources_and_locate(production):
    directory, single = production
    showers = showerdata.load(str(directory / "part-*"))
    assert [(os.path.basename(s.path), s.num_showers) for s in showers.sources] == [
        ("part-1.h5", 6),
        ("part-2.h5", 7),
        ("part-3.h5", 0),
        ("part-10.zarr", 9),
    ]
    assert showers.locate(0) == (str(directory / "part-1.h5"), 0)
    assert showers.locate(13) == (str(directory / "part-10.zarr"), 0)
    assert showers.locate(-1) == (str(directory / "part-10.zarr"), 8)
    part = showers[5:15]
    assert [(os.path.basename(s.path), s.num_showers) for s in part.sources] == [
        ("part-1.h5", 1),
        ("part-2.h5", 7),
        ("part-10.zarr", 2),
    ]
    assert part.locate(9) == (str(directory / "part-10.zarr"), 1)
    # kept by compute and by a further selection of an edited (lazy) copy
    assert part.compute().sources == part.sources
    edited = part.copy()
    edited.energies[0, 0] = 99.0
    assert edited[::-1].locate(0) == (str(directory / "part-10.zarr"), 1)
    assert "from 4 files" in repr(showers)
    assert "from 3 files" in repr(part)
    # an operation that may reorder rows forgets the files
    assert (part + part).sources is None
    with pytest.raises(ValueError, match="come from no file"):
        (part + part).locate(0)


def test_single_file_has_sources_too(production):
    directory, single = production
    showers = showerdata.load(directory / "part-2.h5")
    assert showers.sources == [(str(directory / "part-2.h5"), 7)]
    assert showers[3:].locate(1) == (str(directory / "part-2.h5"), 4)


def test_copies_persisted_and_computed_showers_keep_their_files(production):
    directory, _ = production
    part = showerdata.load(str(directory / "part-*"))[5:15]
    expected = [
        (str(directory / "part-1.h5"), 1),
        (str(directory / "part-2.h5"), 7),
        (str(directory / "part-10.zarr"), 2),
    ]
    in_memory = part.compute()
    forms = (part.copy(), part.persist(), in_memory.copy(), in_memory.persist())
    for kept in (*forms, in_memory.compute()):
        assert kept.sources == expected
        assert kept.locate(8) == (str(directory / "part-10.zarr"), 0)
    one_file = showerdata.load(directory / "part-2.h5")
    assert repr(one_file).endswith("lazy: 1 chunk of <= 7)")  # one file: not said
    assert repr(part.inc_particles) == (
        "IncidentParticles(10 particles, lazy: 3 chunks of <= 7, from 3 files)"
    )


def test_file_functions_accept_productions(production):
    directory, single = production
    pattern = str(directory / "part-*")
    assert showerdata.get_file_shape(pattern) == (22, 35, 4)
    assert showerdata.get_file_length(directory) == 22
    metadata = showerdata.load_metadata(pattern)
    assert metadata["campaign"] == "test"
    assert "part" not in metadata  # differs between files
    particles = showerdata.load_inc_particles(pattern, 2, 17).compute()
    expected = _expected(single, NATURAL, 35)
    np.testing.assert_array_equal(particles.energies, expected["energies"][2:17])
    np.testing.assert_array_equal(particles.pdg, expected["pdg"][2:17])
    with ShowerDataFile(pattern) as file:
        assert file.shape == (22, 35, 4)
        np.testing.assert_array_equal(file[[20, 3]].points, expected["points"][[20, 3]])


def test_load_target_of_a_production(tmp_path):
    names, expected_points, expected_counts = [], [], []
    rng = np.random.default_rng(0)
    for i, (n, p) in enumerate([(5, 8), (4, 11)]):
        path = tmp_path / f"t-{i}.h5"
        showerdata.Showers(**_arrays(n, p, i)).save(path)
        target = rng.random((n, p, 3)).astype(np.float32)
        counts = np.full(n, p, np.int32)
        showerdata.save_target(target, path, counts)
        names.append(path)
        expected_points.append(np.pad(target, ((0, 0), (0, 11 - p), (0, 0))))
        expected_counts.append(counts)
    points, counts = showerdata.load_target(names, start=2)
    np.testing.assert_array_equal(points.compute(), np.concatenate(expected_points)[2:])
    np.testing.assert_array_equal(counts.compute(), np.concatenate(expected_counts)[2:])
    # a window across both files, cropped to 6 points; counts are clipped to the
    # crop as load() clips them (0.7.0 kept counts above the crop)
    points, counts = showerdata.load_target(names, start=3, stop=7, max_points=6)
    np.testing.assert_array_equal(
        points.compute(), np.concatenate(expected_points)[3:7, :6]
    )
    np.testing.assert_array_equal(
        counts.compute(), np.minimum(np.concatenate(expected_counts)[3:7], 6)
    )


def test_v07_mode_reads_productions_into_numpy(production):
    directory, single = production
    expected = _expected(single, NATURAL, 35)
    with dask.config.set({"showerdata.lazy": False}):
        particles = showerdata.load_inc_particles(str(directory / "part-*"), 4, 15)
    assert isinstance(particles.energies, np.ndarray)
    np.testing.assert_array_equal(particles.energies, expected["energies"][4:15])
    np.testing.assert_array_equal(particles.directions, expected["directions"][4:15])


# -- files that differ, bad input ------------------------------------------------


def test_f_mismatch_names_one_file_of_each(tmp_path):
    showerdata.Showers(**_arrays(3, 10, 0, features=4)).save(tmp_path / "a.h5")
    showerdata.Showers(**_arrays(3, 10, 1, features=5)).save(tmp_path / "b.h5")
    with pytest.raises(ShowerDataError, match=r"b\.h5.*F = 5.*a\.h5.*F = 4"):
        showerdata.load(str(tmp_path / "*.h5"))


def test_different_clustered_for_is_an_error(tmp_path):
    for name, detector in [("a.h5", "ILD"), ("b.h5", "other")]:
        showerdata.Showers(**_arrays(3, 10, 0)).save(tmp_path / name)
        showerdata.add_metadata(tmp_path / name, {"clustered_for": detector})
    with pytest.raises(ShowerDataError, match=r"b\.h5.*'other'.*a\.h5.*'ILD'"):
        showerdata.load(tmp_path)
    with pytest.raises(ShowerDataError, match="different detectors"):
        showerdata.load_metadata(tmp_path)


def test_glob_matching_nothing_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No shower file matches"):
        showerdata.load(str(tmp_path / "nothing-*.h5"))


def test_unreadable_or_foreign_file_among_many_is_named(tmp_path):
    for i in range(3):
        showerdata.Showers(**_arrays(3, 10, i)).save(tmp_path / f"p-{i}.h5")
    (tmp_path / "p-5.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(OSError, match=r"p-5\.h5"):
        showerdata.load(str(tmp_path / "p-*.h5"))
    (tmp_path / "p-5.h5").unlink()
    with h5py.File(tmp_path / "p-4.h5", "w") as file:
        file["something"] = np.zeros(3)
    with pytest.raises(KeyError, match=r"p-4\.h5.*'energies' not found"):
        showerdata.load(str(tmp_path / "p-*.h5"))


def _indexed(tmp_path, count: int = 3):
    for i in range(count):
        showerdata.Showers(**_arrays(4, 10, i)).save(tmp_path / f"p-{i}.h5")
    index = str(tmp_path / "prod.index.json")
    write_index(str(tmp_path / "p-*.h5"), index)
    return index


def test_index_opens_without_touching_files(tmp_path, monkeypatch):
    index = _indexed(tmp_path)
    expected = showerdata.load(str(tmp_path / "p-*.h5")).compute()
    opened = []
    real = h5py.File

    def spy(*args, **kwargs):
        opened.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(h5py, "File", spy)
    showers = showerdata.load(index)
    assert len(showers) == 12 and showerdata.get_file_shape(index) == (12, 10, 4)
    assert opened == []
    _assert_fields(showers.compute(), expected._fields())
    assert len(opened) == 3


def test_file_replaced_after_index_is_refused_when_read(tmp_path):
    index = _indexed(tmp_path)
    showers = showerdata.load(index)
    replacement = showerdata.Showers(**_arrays(4, 10, 99))
    replacement.save(tmp_path / "p-1.h5", overwrite=True)
    assert showers[:4].compute().num_points.shape == (4,)  # p-0 is unchanged
    with pytest.raises(ShowerDataError, match=r"p-1\.h5.*changed.*index"):
        showers.compute()
    with pytest.raises(ShowerDataError, match=r"p-1\.h5.*changed"):
        dask.compute(showers.points)


def test_file_replaced_after_load_is_refused_when_read(tmp_path):
    for i in range(2):
        showerdata.Showers(**_arrays(4, 10, i)).save(tmp_path / f"p-{i}.h5")
    showers = showerdata.load(str(tmp_path / "p-*.h5"))
    showerdata.Showers(**_arrays(6, 10, 9)).save(tmp_path / "p-0.h5", overwrite=True)
    with pytest.raises(ShowerDataError, match=r"p-0\.h5.*changed.*since it was opened"):
        showers[0].compute()


def test_missing_file_listed_in_index(tmp_path):
    index = _indexed(tmp_path)
    os.remove(tmp_path / "p-2.h5")
    showers = showerdata.load(index)
    with pytest.raises(FileNotFoundError, match=r"p-2\.h5.*listed in index"):
        showers[-1].compute()


def test_not_an_index_is_named(tmp_path):
    path = tmp_path / "prod.index.json"
    path.write_text(json.dumps({"files": []}))
    with pytest.raises(ShowerDataError, match=r"prod\.index\.json.*not a showerdata"):
        showerdata.load(str(path))


# -- command line ------------------------------------------------------------------


def test_cli_index_and_derived_command_on_index(tmp_path, capsys):
    for i in range(3):
        showerdata.Showers(**_arrays(4, 10, i)).save(tmp_path / f"p-{i}.h5")
    index = str(tmp_path / "prod.index.json")
    assert main(["index", str(tmp_path / "p-*.h5"), "-o", index]) == 0
    output = str(tmp_path / "out.h5")
    assert main(["shift", "--quiet", index, output]) == 0
    expected = showerdata.load(str(tmp_path / "p-*.h5"))
    from showerdata.ops.shifting import shift

    np.testing.assert_array_equal(
        showerdata.load(output).points.compute(), shift(expected).points.compute()
    )


def test_cli_changed_file_fails_before_any_output(tmp_path, capsys):
    index = _indexed(tmp_path)
    os.utime(tmp_path / "p-1.h5", ns=(0, 0))
    output = tmp_path / "out.h5"
    assert main(["shift", "--quiet", index, str(output)]) == 1
    assert "p-1.h5" in capsys.readouterr().err
    assert not output.exists()


def test_cli_shuffle_takes_a_glob(tmp_path):
    for i in range(3):
        showerdata.Showers(**_arrays(4, 10, i)).save(tmp_path / f"p-{i}.h5")
    output = tmp_path / "shuffled.h5"
    assert (
        main(
            ["shuffle", "--quiet", "--seed", "1", str(tmp_path / "p-*.h5"), str(output)]
        )
        == 0
    )
    expected = showerdata.load(str(tmp_path / "p-*.h5")).compute()
    got = showerdata.load(output).compute()
    order = np.lexsort(got.points.reshape(len(got), -1).T)
    reference = np.lexsort(expected.points.reshape(len(expected), -1).T)
    np.testing.assert_array_equal(got.points[order], expected.points[reference])


# -- many files, bounded handles ----------------------------------------------------


def test_many_files_under_a_low_open_file_limit(tmp_path):
    """300 files opened and read with at most 64 descriptors."""
    script = textwrap.dedent(
        """
        import resource, sys
        import numpy as np, showerdata
        directory = sys.argv[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        import dask
        with dask.config.set({"showerdata.open-files": 16}):
            showers = showerdata.load(directory + "/p-*.h5")
            full = showers.compute()
            graph = dask.compute(showers.energies)[0]
        print(len(showers), len(showers.sources), float(full.energies.sum()),
              float(graph.sum()))
        """
    )
    energies = 0.0
    for i in range(300):
        arrays = _arrays(2, 5, i)
        energies += float(arrays["energies"].sum(dtype=np.float32))
        showerdata.Showers(**arrays).save(tmp_path / f"p-{i}.h5")
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert result.returncode == 0, result.stderr
    count, files, full, graph = result.stdout.split()
    assert (int(count), int(files)) == (600, 300)
    assert float(full) == pytest.approx(energies, rel=1e-5)
    assert float(graph) == pytest.approx(energies, rel=1e-5)


def test_production_rows_is_a_stored_selection(production):
    directory, _ = production
    showers = showerdata.load(str(directory / "part-*"))
    assert isinstance(showers._source, ProductionRows)


# -- the header checks of many files equal those of one file ----------------------


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A good file of the bad-input catalogue's size: (path, in-memory showers)."""
    showers = toy_showers(
        BAD_N, max_points=64, num_features=5, seed=11, energy_range=(0.5, 4.0)
    ).compute()
    path = tmp_path_factory.mktemp("good") / "good.h5"
    showerdata.save(showers, path)
    return path, showers


def _group_instead(name):
    def edit(file):
        del file[name]
        file.create_group(name)

    return edit


LAYOUT_DEFECTS = {
    **{key: replace_dataset(*value) for key, value in WRONG_LAYOUT.items()},
    **{
        f"no {name}": (lambda n: lambda f: f.__delitem__(n))(name)
        for name in (*DATASETS, "shower_ids")
    },
    **{f"group {name}": _group_instead(name) for name in DATASETS},
}


@pytest.mark.parametrize("edit", LAYOUT_DEFECTS.values(), ids=LAYOUT_DEFECTS.keys())
def test_a_bad_file_among_many_fails_as_it_does_alone(tmp_path, good, edit):
    import shutil

    damaged = tmp_path / "p-2.h5"
    shutil.copy(good[0], damaged)
    with h5py.File(damaged, "r+") as file:
        edit(file)
    shutil.copy(good[0], tmp_path / "p-1.h5")
    # A missing dataset is a MissingDataError, any other defect a ShowerDataError.
    with pytest.raises((MissingDataError, ShowerDataError)) as alone:
        showerdata.load(damaged)
    with pytest.raises((MissingDataError, ShowerDataError)) as among:
        showerdata.load(str(tmp_path / "p-*.h5"))
    assert type(among.value) is type(alone.value)
    assert str(among.value) == str(alone.value)
    assert str(damaged) in str(among.value)


def test_a_bad_shower_is_located_in_its_file(tmp_path, good):
    import shutil

    damaged = tmp_path / "p-2.h5"
    shutil.copy(good[0], damaged)
    with h5py.File(damaged, "r+") as file:
        edit_point(BAD, 1, 3, -1e-3)(file)
    shutil.copy(good[0], tmp_path / "p-1.h5")
    showers = showerdata.load(str(tmp_path / "p-*.h5"), chunks=5)
    for read in (
        lambda: showers.compute(),
        lambda: showers[BAD_N + BAD].compute(),
        lambda: dask.compute(showers.points),
    ):
        with pytest.raises(ShowerDataError) as error:
            read()
        assert (error.value.path, error.value.dataset, error.value.index) == (
            str(damaged),
            "showers",
            BAD,
        )
    np.testing.assert_array_equal(  # the other showers stay readable
        showers[:BAD_N].points.compute(), good[1].points
    )


def test_an_index_gets_the_mode_of_the_files_beside_it(tmp_path):
    # A production is shared: the index must be as readable as the data files,
    # that is, take its mode from the umask like them.
    index = _indexed(tmp_path)
    data_mode = os.stat(tmp_path / "p-0.h5").st_mode & 0o777
    assert os.stat(index).st_mode & 0o777 == data_mode
    assert data_mode & 0o044  # readable by others under the usual umask
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".partial")]
