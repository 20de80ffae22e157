"""Saving to an output pattern: one file per group of whole chunks, and an index.

Expected values come from the in-memory showers the test builds (numpy), and
the files are also read with h5py directly; the partition sizes expected are
worked out by hand from the chunk lengths.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import dask
import h5py
import numpy as np
import pytest
from conftest import assert_showers_equal

import showerdata
from showerdata.errors import ShowerDataError

pytestmark = pytest.mark.timeout(180)

#: Uneven chunk lengths along showers (200 showers).
CHUNKS = (30, 70, 50, 50)


@pytest.fixture
def showers(make_showers):
    """200 in-memory toy showers (numpy): the reference values."""
    return make_showers(n=200, max_points=30, num_features=4, seed=5)


def _part_names(directory, suffix=".h5") -> list[str]:
    return sorted(
        name
        for name in os.listdir(directory)
        if name.startswith("part-") and name.endswith(suffix)
    )


def _reference_rows(showers, start: int, stop: int) -> dict[str, np.ndarray]:
    return {name: getattr(showers, name)[start:stop] for name in showers.FIELDS}


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        # Hand-worked: a file takes chunks while they fit; never a part of one.
        (90, [30, 70, 50, 50]),
        (100, [100, 100]),
        (149, [100, 100]),
        (150, [150, 50]),
        (1000, [200]),
        (10, [30, 70, 50, 50]),
    ],
)
def test_files_hold_whole_chunks_up_to_showers_per_file(
    tmp_path, showers, limit, expected
):
    lazy = showers.chunk(CHUNKS)
    showerdata.save(lazy, tmp_path / "part-{:03d}.h5", showers_per_file=limit)

    names = _part_names(tmp_path)
    assert names == [f"part-{k:03d}.h5" for k in range(len(expected))]
    start = 0
    for name, length in zip(names, expected, strict=True):
        with h5py.File(tmp_path / name, "r") as file:
            assert file["shape"][()].tolist() == [length, 30, 4]
            assert file["num_points"][()].tolist() == (
                showers.num_points[start : start + length].tolist()
            )
            assert np.array_equal(
                file["energies"][()], showers.energies[start : start + length]
            )
        part = showerdata.load(tmp_path / name)
        assert_showers_equal(part, _reference_rows(showers, start, start + length))
        start += length
    assert start == 200


def test_default_size_is_file_bytes_of_padded_showers(tmp_path, showers):
    # One shower: 30 x 4 float32 points + num_points, energy, direction (3),
    # pdg, id: 480 + 4 + 4 + 12 + 4 + 4 = 508 bytes. 120 showers' worth:
    # chunks of 30 and 70 fit (100), a third does not; then 50 + 50.
    with dask.config.set({"showerdata.file-bytes": 120 * 508}):
        showerdata.save(showers.chunk(CHUNKS), tmp_path / "part-{}.h5")
    assert _part_names(tmp_path) == ["part-0.h5", "part-1.h5"]
    assert [len(showerdata.load(tmp_path / n)) for n in _part_names(tmp_path)] == [
        100,
        100,
    ]


@pytest.mark.parametrize("suffix", [".h5", ".zarr"])
def test_round_trip_through_glob_and_index(tmp_path, showers, suffix):
    showerdata.save(
        showers.chunk(CHUNKS), tmp_path / f"part-{{:05d}}{suffix}", showers_per_file=100
    )
    assert _part_names(tmp_path, suffix) == [
        f"part-00000{suffix}",
        f"part-00001{suffix}",
    ]
    index = tmp_path / "part.index.json"
    listed = json.loads(index.read_text())["files"]
    assert [record["path"] for record in listed] == _part_names(tmp_path, suffix)
    assert [record["num_rows"] for record in listed] == [100, 100]
    for source in (tmp_path / f"part-*{suffix}", index):
        back = showerdata.load(source)
        assert 100 in np.cumsum(back.chunks)  # no chunk straddles two files
        assert_showers_equal(back, showers)
    # No temporary file is left beside them.
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def test_the_directory_of_a_pattern_is_made(tmp_path, showers):
    pattern = tmp_path / "new" / "sub" / "part-{:02d}.h5"
    showerdata.save(showers.chunk(CHUNKS), pattern, showers_per_file=100)
    names = sorted(os.listdir(tmp_path / "new" / "sub"))
    assert names == ["part-00.h5", "part-01.h5", "part.index.json"]
    assert_showers_equal(showerdata.load(tmp_path / "new" / "sub" / "*.h5"), showers)


def test_in_memory_showers_and_incident_particles(tmp_path, showers):
    showerdata.save(showers, tmp_path / "part-{:02d}.h5", showers_per_file=64)
    # In memory, chunks are the default length (~64 MiB): one file here.
    assert _part_names(tmp_path) == ["part-00.h5"]
    assert_showers_equal(showerdata.load(tmp_path / "part.index.json"), showers)

    particles = showers.chunk(CHUNKS).inc_particles
    showerdata.save(particles, tmp_path / "inc-{}.h5", showers_per_file=100)
    back = showerdata.load_inc_particles(tmp_path / "inc-*.h5").compute()
    for name in ("energies", "directions", "pdg"):
        assert np.array_equal(getattr(back, name), getattr(showers, name)), name
    assert os.path.exists(tmp_path / "inc.index.json")


def test_a_failing_task_leaves_only_complete_files_and_no_index(tmp_path, showers):
    lazy = showers.chunk(CHUNKS)
    bad = 130  # in the third chunk: the third file of four
    lazy.points[bad, 0, 3] = -1.0  # a negative energy: the graph's check raises
    with (
        dask.config.set(scheduler="sync"),
        pytest.raises(ShowerDataError, match="shower 130|index 130|130"),
    ):
        showerdata.save(lazy, tmp_path / "part-{}.h5", showers_per_file=90)
    names = _part_names(tmp_path)
    assert "part-2.h5" not in names  # rows 100:150, with the bad shower
    rows = {"part-0.h5": (0, 30), "part-1.h5": (30, 100), "part-3.h5": (150, 200)}
    for name in names:  # whatever was written before the error is complete
        assert_showers_equal(
            showerdata.load(tmp_path / name), _reference_rows(showers, *rows[name])
        )
    assert sorted(os.listdir(tmp_path)) == names  # no index, no temporary file


KILLED_SAVE = """
import sys, time
import dask
import showerdata

def slowly(values):
    time.sleep(0.4)
    return values

source, pattern, resume = sys.argv[1], sys.argv[2], sys.argv[3] == "resume"
showers = showerdata.load(source, chunks=25)
showers.energies = showers.energies.map_blocks(slowly, dtype="float32")
with dask.config.set(scheduler="sync"):
    showerdata.save(showers, pattern, showers_per_file=25, resume=resume)
print("done")
"""


def test_a_killed_save_resumes_without_rewriting_complete_files(tmp_path, showers):
    source = tmp_path / "source.h5"
    showers.save(source)
    script = tmp_path / "save.py"
    script.write_text(KILLED_SAVE)
    out = tmp_path / "out"
    out.mkdir()
    pattern = str(out / "part-{:02d}.h5")
    environment = {**os.environ, "PYTHONPATH": os.getcwd()}
    command = [sys.executable, str(script), str(source), pattern]

    writer = subprocess.Popen([*command, "fresh"], env=environment)
    deadline = time.monotonic() + 120
    while len(_part_names(out)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    before = {
        name: (os.stat(out / name).st_ino, os.stat(out / name).st_mtime_ns)
        for name in _part_names(out)
    }
    assert 2 <= len(before) < 8, before  # killed part way
    assert not os.path.exists(out / "part.index.json")
    for name in before:  # what is there is complete
        start = int(name[5:7]) * 25
        assert_showers_equal(
            showerdata.load(out / name), _reference_rows(showers, start, start + 25)
        )

    done = subprocess.run(
        [*command, "resume"], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert _part_names(out) == [f"part-{k:02d}.h5" for k in range(8)]
    for name, (inode, mtime) in before.items():
        stat = os.stat(out / name)
        assert (stat.st_ino, stat.st_mtime_ns) == (inode, mtime), name
    assert_showers_equal(showerdata.load(out / "part.index.json"), showers)
    assert not [n for n in os.listdir(out) if n.startswith(".")]


def test_resume_rewrites_a_part_of_other_data_only_with_overwrite(tmp_path, showers):
    pattern = tmp_path / "part-{}.h5"
    showerdata.save(showers.chunk(CHUNKS), pattern, showers_per_file=100)
    other = showers.copy()
    other.energies[:] = other.energies + 1  # the same shape, other values
    with pytest.raises(FileExistsError, match="part-0.h5"):
        showerdata.save(other.chunk(CHUNKS), pattern, showers_per_file=100, resume=True)
    assert_showers_equal(showerdata.load(tmp_path / "part-*.h5"), showers)
    showerdata.save(
        other.chunk(CHUNKS),
        pattern,
        showers_per_file=100,
        resume=True,
        overwrite=True,
    )
    assert_showers_equal(showerdata.load(tmp_path / "part.index.json"), other)


def test_existing_parts_need_overwrite_and_extra_ones_are_removed(tmp_path, showers):
    pattern = tmp_path / "part-{}.h5"
    showerdata.save(showers.chunk(CHUNKS), pattern, showers_per_file=50)
    assert len(_part_names(tmp_path)) == 4
    stamp = os.stat(tmp_path / "part-0.h5").st_mtime_ns
    with pytest.raises(FileExistsError, match="part-0.h5"):
        showerdata.save(showers.chunk(CHUNKS), pattern, showers_per_file=100)
    assert os.stat(tmp_path / "part-0.h5").st_mtime_ns == stamp  # untouched
    showerdata.save(
        showers.chunk(CHUNKS), pattern, showers_per_file=100, overwrite=True
    )
    # The earlier, longer list of files would have been read by the glob too.
    assert _part_names(tmp_path) == ["part-0.h5", "part-1.h5"]
    assert_showers_equal(showerdata.load(tmp_path / "part-*.h5"), showers)


def test_a_pattern_naming_an_input_is_refused_before_anything_is_written(
    tmp_path, showers
):
    showerdata.save(showers.chunk(CHUNKS), tmp_path / "part-{}.h5", showers_per_file=50)
    stamps = {n: os.stat(tmp_path / n).st_mtime_ns for n in os.listdir(tmp_path)}
    production = showerdata.load(tmp_path / "part-*.h5")
    filtered = showerdata.filter_showers(production, 0.0, 0.0, 0.0, 30)
    for data, pattern in [
        (production, "part-{}.h5"),
        (filtered, "part-{}.h5"),
        (showerdata.load(tmp_path / "part-3.h5"), "part-{}.h5"),
        (showerdata.load(tmp_path / "part.index.json"), "part-{}.h5"),
    ]:
        with pytest.raises(ShowerDataError, match="part-.*is an input"):
            showerdata.save(data, tmp_path / pattern, overwrite=True, resume=True)
    assert {n: os.stat(tmp_path / n).st_mtime_ns for n in os.listdir(tmp_path)} == (
        stamps
    )


@pytest.mark.parametrize(
    "pattern", ["part-{}-{}.h5", "part-{name}.h5", "part-{:s}.h5", "d{}/part.h5"]
)
def test_patterns_that_do_not_number_files_are_refused(tmp_path, showers, pattern):
    with pytest.raises(ValueError, match="pattern"):
        showerdata.save(showers, tmp_path / pattern)
    assert os.listdir(tmp_path) == []


def test_showers_per_file_needs_a_pattern(tmp_path, showers):
    with pytest.raises(ValueError, match="pattern"):
        showerdata.save(showers, tmp_path / "one.h5", showers_per_file=10)


def test_a_local_cluster_writes_the_parts_on_its_workers(tmp_path, showers):
    from distributed import Client, LocalCluster, get_task_stream

    lazy = showers.chunk(CHUNKS)
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
        get_task_stream(client) as stream,
    ):
        showerdata.save(lazy, tmp_path / "part-{:03d}.h5", showers_per_file=50)
        showerdata.save(lazy, tmp_path / "store-{:03d}.zarr", showers_per_file=100)
    writes = [
        record
        for record in stream.data
        if str(record["key"]).startswith("('write-partition-")
    ]
    assert len(writes) == 4 + 2  # one task per file, run by the workers
    assert_showers_equal(showerdata.load(tmp_path / "part.index.json"), showers)
    assert_showers_equal(showerdata.load(tmp_path / "store.index.json"), showers)


READ_PART_WITH_V07 = """
import json, sys
import numpy as np
import showerdata
s = showerdata.load(sys.argv[1])
print(json.dumps({name: np.asarray(getattr(s, name)).tobytes().hex() for name in
      ("points", "energies", "pdg", "directions", "shower_ids", "_num_points")}))
"""


def test_showerdata_07_reads_a_part(tmp_path, showers, v07):
    showerdata.save(
        showers.chunk(CHUNKS), tmp_path / "part-{}.h5", showers_per_file=100
    )
    got = v07(READ_PART_WITH_V07, str(tmp_path / "part-1.h5"))
    rows = slice(100, 200)
    for name in ("points", "energies", "pdg", "directions", "shower_ids"):
        assert bytes.fromhex(got[name]) == getattr(showers, name)[rows].tobytes(), name
    assert bytes.fromhex(got["_num_points"]) == showers.num_points[rows].tobytes()


def test_a_write_task_carries_only_the_tasks_of_its_file(showers):
    # What a task ships to a distributed worker: its partition's graph, not all.
    from showerdata.io.partitioned import _part_fields

    lazy = showers.chunk((10,) * 20)
    whole = len(dict(lazy.points.__dask_graph__()))
    piece = _part_fields({"points": lazy.points}, 0, 10)["points"]
    assert len(dict(piece.__dask_graph__())) <= whole / 10


def _cli(*arguments: str) -> int:
    from showerdata.cli import main

    return main([*arguments, "--quiet"])


@pytest.mark.parametrize("command", [["filter", "--ecal-threshold", "0.3"], ["shift"]])
def test_commands_write_an_output_pattern(tmp_path, showers, command, capsys):
    source = tmp_path / "source.h5"
    showers.chunk(CHUNKS).save(source)
    showerdata.add_metadata(source, {"campaign": "test"})
    name, *options = command
    single, pattern = str(tmp_path / "one.h5"), str(tmp_path / "part-{:02d}.h5")
    assert _cli(name, str(source), single, *options, "--chunk-size", "50") == 0
    arguments = [name, str(source), pattern, *options, "--chunk-size", "50"]
    assert _cli(*arguments, "--showers-per-file", "100") == 0
    assert _part_names(tmp_path) == ["part-00.h5", "part-01.h5"]
    for part in ("part-00.h5", "part-01.h5"):  # attributes carried to every file
        assert showerdata.load_metadata(tmp_path / part)["campaign"] == "test"
    assert_showers_equal(
        showerdata.load(tmp_path / "part.index.json"), showerdata.load(single).compute()
    )
    capsys.readouterr()
    assert _cli(*arguments) == 1  # the files exist: refused, named
    assert "part-00.h5 already exists; use --overwrite" in capsys.readouterr().err


def test_convert_a_production_to_a_pattern_of_zarr_stores(tmp_path, showers, capsys):
    showerdata.save(showers.chunk(CHUNKS), tmp_path / "part-{}.h5", showers_per_file=50)
    showerdata.add_metadata(tmp_path / "part-1.h5", {"only": "here"})
    assert (
        _cli("convert", str(tmp_path / "part-*.h5"), str(tmp_path / "s-{}.zarr")) == 0
    )
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("s")) == [
        "s-0.zarr",
        "s.index.json",
    ]
    assert_showers_equal(showerdata.load(tmp_path / "s-0.zarr"), showers)
    assert "only" not in showerdata.load_metadata(tmp_path / "s-0.zarr")
    # Into the pattern it reads from: refused before anything is written.
    assert (
        _cli(
            "convert",
            str(tmp_path / "part-*.h5"),
            str(tmp_path / "part-{}.h5"),
            "--overwrite",
        )
        == 1
    )
    error = capsys.readouterr().err
    assert "part-0.h5" in error and "input" in error


def test_the_command_line_resumes_an_interrupted_pattern(tmp_path, showers, capsys):
    source = tmp_path / "source.h5"
    showers.chunk(CHUNKS).save(source)
    out = tmp_path / "out"
    out.mkdir()
    arguments = ["shift", str(source), str(out / "part-{}.h5"), "--chunk-size", "50"]
    assert _cli(*arguments, "--showers-per-file", "50") == 0
    # As an interrupted run leaves it: some files complete, no index.
    os.remove(out / "part-2.h5")
    os.remove(out / "part.index.json")
    kept = {n: os.stat(out / n).st_mtime_ns for n in _part_names(out)}
    capsys.readouterr()
    assert _cli(*arguments, "--showers-per-file", "50") == 1  # exists: refused
    assert "--overwrite" in capsys.readouterr().err
    assert _cli(*arguments, "--showers-per-file", "50", "--resume") == 0
    assert _part_names(out) == [f"part-{k}.h5" for k in range(4)]
    assert {n: os.stat(out / n).st_mtime_ns for n in kept} == kept
    single = str(tmp_path / "one.h5")
    assert _cli("shift", str(source), single, "--chunk-size", "50") == 0
    assert_showers_equal(
        showerdata.load(out / "part.index.json"), showerdata.load(single).compute()
    )
    assert _cli("shift", str(source), single, "--resume") == 1
    assert "--resume applies to an output pattern" in capsys.readouterr().err
