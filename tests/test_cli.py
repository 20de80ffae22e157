"""The ``showerdata`` command line, run for real on small toy files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import showerdata
from showerdata.cli import main, parser
from showerdata.detector import get_ILD_geometry, get_test_geometry
from showerdata.execution import CONNECT_TIMEOUT
from showerdata.observables import calc_observables, read_observables_from_file
from showerdata.shuffle import shuffled
from showerdata.toy import toy_showers

COMMANDS_07 = ("shuffle", "add-observables", "shift", "cluster", "filter")
COMMANDS = (
    *COMMANDS_07,
    "info",
    "verify",
    "plot",
    "generate",
    "convert",
    "demo",
    "precompile",
)


@pytest.fixture
def files(tmp_path):
    """Two productions (60 and 40 showers, P = 60) and one with another P."""
    paths = {}
    for name, count, seed, points in (
        ("a", 60, 1, 60),
        ("b", 40, 2, 60),
        ("c", 5, 3, 50),
    ):
        path = tmp_path / f"{name}.h5"
        toy = toy_showers(count, seed=seed, max_points=points, chunks=25)
        # Shower ids unique across the files, so a shuffle can be checked.
        toy.shower_ids = toy.shower_ids + 1000 * seed
        showerdata.save(toy, path)
        paths[name] = str(path)
    return paths


def run(*args, capsys=None):
    """``main(args)`` with ``--quiet``; returns (status, stdout, stderr)."""
    status = main([str(a) for a in args])
    if capsys is None:
        return status
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def loaded(path):
    return showerdata.load(path).compute()


def assert_same(actual, expected):
    for name in showerdata.Showers.FIELDS:
        a, e = np.asarray(getattr(actual, name)), np.asarray(getattr(expected, name))
        assert a.dtype == e.dtype and a.shape == e.shape, name
        assert a.tobytes() == e.tobytes(), name


def assert_one_line_error(err, *fragments, alone=True):
    """One error line naming ``fragments``; ``alone``: nothing else on stderr
    (otherwise progress bars may come before it)."""
    assert "Traceback" not in err
    lines = err.strip().split("\n")
    if alone:
        assert len(lines) == 1, err
    errors = [line for line in lines if line.startswith("showerdata: error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], err
    for fragment in fragments:
        assert fragment in errors[0], err


# -- the parser -------------------------------------------------------------------


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out
    assert main(["-v"]) == 0
    assert showerdata.__version__ in capsys.readouterr().out


def test_the_flags_of_07_keep_their_names_and_meanings():
    parse = parser().parse_args
    args = parse(
        "shuffle a.h5 b.h5 out.h5 --seed 3 --overwrite --test 5 --batch-size 7 "
        "--overwrite-ids".split()
    )
    assert (args.input_files, args.output_file) == (["a.h5", "b.h5"], "out.h5")
    assert (args.seed, args.overwrite, args.test) == (3, True, 5)
    assert (args.chunk_size, args.overwrite_ids) == (7, True)
    args = parse("add-observables f.h5 -b 9 -l 30 -t 0.5 --overwrite".split())
    assert (args.filename, args.chunk_size, args.num_layers) == ("f.h5", 9, 30)
    assert (args.threshold, args.overwrite) == (0.5, True)
    args = parse(
        "add-observables f.h5 --batch-size 9 --num-layers 3 --threshold 1".split()
    )
    assert (args.chunk_size, args.num_layers, args.threshold) == (9, 3, 1.0)
    assert parse("shift in.h5 out.h5 -i".split()).inverse
    assert parse("shift in.h5 out.h5 --inverse".split()).inverse
    args = parse(
        "cluster in.h5 out.h5 --no-random-shift --batch-size 4 --processes 2".split()
    )
    assert (args.no_random_shift, args.chunk_size, args.processes) == (True, 4, 2)
    args = parse(
        "filter in.h5 out.h5 -r 20 --ecal-threshold 0.1 --hcal-threshold 0.2 -d "
        "--overwrite".split()
    )
    assert (args.radius, args.ecal_threshold, args.hcal_threshold) == (20, 0.1, 0.2)
    assert args.use_detector_thresholds and args.overwrite
    assert parse("filter in.h5 out.h5 --radius 5".split()).radius == 5


def test_execution_options_on_every_computing_command():
    parse = parser().parse_args
    arguments = {
        "shuffle": ["a.h5", "b.h5"],
        "add-observables": ["a.h5"],
        "shift": ["a.h5", "b.h5"],
        "cluster": ["a.h5", "b.h5"],
        "filter": ["a.h5", "b.h5"],
        "verify": ["a.h5"],
        "plot": ["a.h5"],
        "generate": ["a.h5"],
        "convert": ["a.h5", "b.zarr"],
        "demo": [],
    }
    for command, positional in arguments.items():
        args = parse(
            [command, *positional, "--threads", "2", "--chunk-size", "5", "--seed", "1"]
        )
        assert (args.threads, args.chunk_size, args.seed) == (2, 5, 1), command
        assert parse([command, *positional, "--workers", "3"]).workers == 3
        address = parse([command, *positional, "--scheduler", "tcp://h:1"]).scheduler
        assert address == "tcp://h:1"


def test_exclusive_execution_options_are_a_usage_error(files, capsys):
    status = main(["verify", files["a"], "--workers", "2", "--threads", "2"])
    assert status == 2
    assert "not allowed with argument" in capsys.readouterr().err


# -- the 0.7 commands ------------------------------------------------------------------


def test_shuffle(files, tmp_path, capsys):
    out = tmp_path / "shuffled.h5"
    args = ["shuffle", files["a"], files["b"], out, "--seed", 5, "--chunk-size", 16]
    status, stdout, err = run(*args, "--quiet", capsys=capsys)
    assert status == 0 and err == ""
    assert_same(loaded(out), shuffled([files["a"], files["b"]], seed=5).compute())
    assert "100 showers" in stdout and "showers/s" in stdout
    assert "peak memory" in stdout


def test_shuffle_draws_and_prints_a_seed_without_one(files, tmp_path, capsys):
    out = tmp_path / "shuffled.h5"
    status, _, err = run("shuffle", files["a"], files["b"], out, capsys=capsys)
    assert status == 0
    seed = int(err.split("shuffle seed: ")[1].split()[0])
    # A progress bar while writing, unless --quiet.
    assert "shuffling" in err and "100/100" in err
    assert_same(loaded(out), shuffled([files["a"], files["b"]], seed=seed).compute())


def test_shuffle_test_mode_and_new_ids(files, tmp_path):
    out = tmp_path / "shuffled.h5"
    args = ["shuffle", files["a"], files["b"], out, "--seed", 1, "--quiet"]
    assert run(*args, "--test", 10, "--overwrite-ids") == 0
    result = loaded(out)
    assert np.array_equal(result.shower_ids, np.arange(20))
    first = showerdata.concatenate([loaded(files["a"])[:10], loaded(files["b"])[:10]])
    energies = np.sort(first.energies[:, 0])
    assert np.array_equal(np.sort(result.energies[:, 0]), energies)


def test_shuffle_of_incompatible_files(files, tmp_path, capsys):
    out = tmp_path / "shuffled.h5"
    status, _, err = run(
        "shuffle", files["a"], files["c"], out, "--seed", 1, capsys=capsys
    )
    assert status == 1
    assert_one_line_error(err, files["c"], "P = 50", "P = 60")
    assert not out.exists()


def test_add_observables(files, capsys):
    path = files["a"]
    status, out, _ = run("add-observables", path, "--quiet", capsys=capsys)
    assert status == 0 and "60 showers" in out
    read = read_observables_from_file(path)
    geometry = showerdata.detector.get_ILD_unclustered_geometry()
    expected = calc_observables(loaded(path), geometry)
    for name, values in expected.items():
        assert np.array_equal(read[name], values), name
    assert showerdata.load_metadata(path)["observables_computed_for"] == geometry.name

    status, _, err = run("add-observables", path, capsys=capsys)
    assert status == 1
    assert_one_line_error(err, "already contains")  # before any work: no bar

    # 0.7's test detector: -l layers, -t threshold
    args = ["add-observables", path, "-l", 40, "-t", 0.5, "--overwrite", "--quiet"]
    assert run(*args, "-b", 16) == 0
    read = read_observables_from_file(path)
    expected = calc_observables(loaded(path), get_test_geometry(40, 0.5))
    assert read["energy_per_layer"].shape == (60, 40)
    assert np.array_equal(read["energy_per_layer"], expected["energy_per_layer"])


def test_add_observables_warns_about_an_ignored_threshold(files, capsys):
    args = ["add-observables", files["b"], "-t", 1, "--quiet"]
    status, _, err = run(*args, capsys=capsys)
    assert status == 0
    assert "warning" in err and "--threshold is ignored" in err


def test_shift_and_back(files, tmp_path):
    shifted, back = tmp_path / "shifted.h5", tmp_path / "back.h5"
    assert run("shift", files["a"], shifted, "--quiet", "--chunk-size", 7) == 0
    expected = showerdata.shift(loaded(files["a"]))
    assert_same(loaded(shifted), expected)
    assert run("shift", shifted, back, "-i", "--quiet") == 0
    assert_same(loaded(back), showerdata.shift(expected, inverse=True))


def test_cluster(files, tmp_path):
    out = tmp_path / "clustered.h5"
    assert run("cluster", files["a"], out, "--seed", 4, "--quiet") == 0
    geometry = get_ILD_geometry()
    expected = showerdata.cluster(loaded(files["a"]), detector_config=geometry, seed=4)
    assert_same(loaded(out), expected)
    assert showerdata.load_metadata(out)["clustered_for"] == "ILD"

    fixed = tmp_path / "fixed.h5"
    assert run("cluster", files["a"], fixed, "--no-random-shift", "--quiet") == 0
    expected = showerdata.cluster(loaded(files["a"]), random_shift=False)
    assert_same(loaded(fixed), expected)


def test_filter(files, tmp_path):
    showerdata.add_metadata(files["a"], {"campaign": "test-beam", "run": 7})
    out = tmp_path / "filtered.h5"
    args = ["filter", files["a"], out, "-r", 30, "--ecal-threshold", 0.05]
    assert run(*args, "--hcal-threshold", 0.2, "--quiet") == 0
    # thresholds in MeV on the command line, GeV in the API (as in 0.7)
    expected = showerdata.filter_showers(loaded(files["a"]), 30.0, 5e-5, 2e-4, 30)
    assert_same(loaded(out), expected)
    assert loaded(out).num_points.sum() < loaded(files["a"]).num_points.sum()
    metadata = showerdata.load_metadata(out)
    assert (metadata["campaign"], metadata["run"]) == ("test-beam", 7)

    detector = tmp_path / "detector.h5"
    assert run("filter", files["a"], detector, "-d", "--quiet") == 0
    unclustered = showerdata.detector.get_ILD_unclustered_geometry()
    expected = showerdata.filter_showers(
        loaded(files["a"]),
        ecal_threshold=unclustered.ecal_threshold / 1e3,
        hcal_threshold=unclustered.hcal_threshold / 1e3,
        num_layers_ecal=unclustered.num_layers_ecal,
    )
    assert_same(loaded(detector), expected)


# -- our commands ------------------------------------------------------------------


def test_info(files, capsys):
    showerdata.add_metadata(files["a"], {"campaign": "test-beam"})
    status, out, _ = run("info", files["a"], files["b"], capsys=capsys)
    assert status == 0
    assert f"{files['a']}: 60 showers, P = 60, F = 5" in out
    assert f"{files['b']}: 40 showers, P = 60, F = 5" in out
    counts = loaded(files["a"]).num_points
    assert f"min {counts.min()}, mean {counts.mean():.1f}, max {counts.max()}" in out
    assert "MiB on disk" in out and "campaign = test-beam" in out
    for dataset in ("showers", "energies", "directions", "pdg", "shower_ids"):
        assert f"    {dataset} " in out
    assert "vlen float32" in out


def test_info_of_a_particles_file(tmp_path, capsys):
    path = tmp_path / "particles.h5"
    showerdata.save(showerdata.IncidentParticles(np.ones((3, 1)), 22), path)
    status, out, _ = run("info", path, capsys=capsys)
    assert status == 0 and "3 incident particles, no showers" in out


def test_verify_accepts_good_files_chunk_by_chunk(files, capsys):
    showerdata.observables.add_observables_to_file(files["a"])
    args = ["verify", files["a"], files["b"], "--chunk-size", 7, "--quiet"]
    status, out, _ = run(*args, capsys=capsys)
    assert status == 0
    assert f"{files['a']}: OK, 60 showers in 9 chunks; 4 observables" in out
    assert f"{files['b']}: OK, 40 showers in 6 chunks" in out
    assert "100 showers" in out.splitlines()[-1]


def _set_row(path, index, change):
    with h5py.File(path, "r+") as file:
        row = file["showers"][index].copy()
        change(row)
        file["showers"][index] = row


def test_verify_names_the_first_bad_shower(files, capsys):
    _set_row(files["a"], 44, lambda row: row.__setitem__(3, -2.0))  # energy
    _set_row(files["a"], 51, lambda row: row.__setitem__(3, np.nan))
    status, _, err = run("verify", files["a"], "--chunk-size", 10, capsys=capsys)
    assert status == 1
    # after the progress bar of the chunks that were fine
    assert "verify a.h5" in err
    assert_one_line_error(err, files["a"], "'showers'", "shower 44", alone=False)


def test_verify_finds_inconsistent_counts_and_incident_energies(files, capsys):
    with h5py.File(files["b"], "r+") as file:
        file["num_points"][12] += 1
    with h5py.File(files["a"], "r+") as file:
        file["energies"][33] = np.inf
    status, _, err = run("verify", files["b"], "--quiet", capsys=capsys)
    assert status == 1
    assert_one_line_error(err, files["b"], "shower 12", "num_points")
    status, _, err = run("verify", files["a"], "--quiet", capsys=capsys)
    assert status == 1
    assert_one_line_error(err, "'energies'", "shower 33")


def test_verify_checks_the_length_of_other_datasets(tmp_path, capsys):
    path = tmp_path / "extra.h5"
    showerdata.save(toy_showers(20, max_points=10), path)
    with h5py.File(path, "r+") as file:
        file.create_dataset("observables/mine", data=np.zeros(19))
    status, _, err = run("verify", path, "--quiet", capsys=capsys)
    assert status == 1
    assert_one_line_error(err, "observables/mine", "19 rows")


def test_plot(files, tmp_path, capsys):
    out = tmp_path / "plots.png"
    args = ["plot", files["a"], files["b"], "-o", out, "--labels", "A", "B"]
    status, stdout, _ = run(*args, "--quiet", capsys=capsys)
    assert status == 0 and "100 showers" in stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000
    assert sorted(os.listdir(tmp_path)) == ["a.h5", "b.h5", "c.h5", "plots.png"]
    status, _, err = run(*args[:-1], "--overwrite", capsys=capsys)
    assert status == 1
    assert_one_line_error(err, "one label per input")


def test_plot_without_matplotlib_says_what_to_install(files, tmp_path):
    out = tmp_path / "plots.png"
    script = (
        "import sys; sys.modules['matplotlib'] = None\n"  # as if not installed
        "from showerdata.cli import main\n"
        f"sys.exit(main(['plot', {files['a']!r}, '-o', {str(out)!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert_one_line_error(done.stderr, "matplotlib", "showerdata[plots]")
    assert not out.exists()


def test_generate_with_chunks_and_seed(tmp_path):
    out = tmp_path / "toy.h5"
    args = ["generate", out, "--showers", 30, "--max-points", 20, "--quiet"]
    assert run(*args, "--seed", 3, "--chunk-size", 7) == 0
    assert_same(loaded(out), toy_showers(30, seed=3, max_points=20).compute())


# -- execution ------------------------------------------------------------------


def test_threads_and_chunk_size_give_the_same_result(files, tmp_path):
    one, two = tmp_path / "one.h5", tmp_path / "two.h5"
    assert run("cluster", files["a"], one, "--seed", 2, "--quiet") == 0
    args = ["cluster", files["a"], two, "--seed", 2, "--quiet"]
    assert run(*args, "--threads", 2, "--chunk-size", 9) == 0
    assert_same(loaded(one), loaded(two))


def test_local_process_workers(files, tmp_path, capsys):
    out = tmp_path / "clustered.h5"
    args = ["cluster", files["a"], out, "--seed", 8, "--chunk-size", 20]
    status, stdout, _ = run(*args, "--workers", 2, "--quiet", capsys=capsys)
    assert status == 0
    expected = showerdata.cluster(loaded(files["a"]), seed=8)
    assert_same(loaded(out), expected)
    assert "busiest worker" in stdout


def test_shuffle_between_hdf5_files_needs_no_cluster(files, tmp_path, capsys):
    out = tmp_path / "shuffled.h5"
    args = ["shuffle", files["a"], files["b"], out, "--seed", 8, "--workers", 2]
    status, stdout, err = run(*args, "--quiet", capsys=capsys)
    assert status == 0 and "runs in this process" in err
    assert "busiest worker" not in stdout
    assert_same(loaded(out), shuffled([files["a"], files["b"]], seed=8).compute())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_scheduler_is_one_quick_line(files, tmp_path, capsys):
    out = tmp_path / "filtered.h5"
    address = f"tcp://127.0.0.1:{_free_port()}"
    began = time.perf_counter()
    status, _, err = run(
        "filter", files["a"], out, "--scheduler", address, capsys=capsys
    )
    assert time.perf_counter() - began < CONNECT_TIMEOUT
    assert status == 1
    assert_one_line_error(err, address, "cannot reach a dask scheduler")
    assert not out.exists()


# -- bad input -------------------------------------------------------------------


def _command_lines(files, tmp_path, missing):
    out = str(tmp_path / "out.h5")
    return {
        "shuffle": ["shuffle", files["a"], missing, out],
        "add-observables": ["add-observables", missing],
        "shift": ["shift", missing, out],
        "cluster": ["cluster", missing, out],
        "filter": ["filter", missing, out],
        "info": ["info", missing],
        "verify": ["verify", missing],
        "plot": ["plot", missing, "-o", str(tmp_path / "out.png")],
        "convert": ["convert", missing, str(tmp_path / "out.zarr")],
    }


def test_missing_inputs(files, tmp_path, capsys):
    missing = str(tmp_path / "missing.h5")
    for command, args in _command_lines(files, tmp_path, missing).items():
        status, _, err = run(*args, capsys=capsys)
        assert status == 1, command
        assert_one_line_error(err, "No such shower file", missing)
    assert sorted(os.listdir(tmp_path)) == ["a.h5", "b.h5", "c.h5"]


def _not_shower_files(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    empty = tmp_path / "empty.h5"
    h5py.File(empty, "w").close()
    return text, empty


def test_inputs_that_are_not_shower_files(files, tmp_path, capsys):
    for bad in _not_shower_files(tmp_path):
        commands = _command_lines(files, tmp_path, str(bad))
        del commands["convert"]  # see test_convert_round_trip
        for command, args in commands.items():
            status, _, err = run(*args, capsys=capsys)
            assert status == 1, (command, bad)
            assert_one_line_error(err, str(bad))
    assert sorted(os.listdir(tmp_path)) == [
        "a.h5",
        "b.h5",
        "c.h5",
        "empty.h5",
        "notes.h5",
    ]


def test_existing_outputs_need_overwrite(files, tmp_path, capsys):
    out = tmp_path / "out.h5"
    out.write_bytes(b"precious")
    commands = [
        ["shuffle", files["a"], files["b"], out],
        ["shift", files["a"], out],
        ["cluster", files["a"], out],
        ["filter", files["a"], out],
        ["generate", out],
        ["plot", files["a"], "-o", out],
        ["convert", files["a"], out],
    ]
    for args in commands:
        status, _, err = run(*args, capsys=capsys)
        assert status == 1, args[0]
        assert_one_line_error(err, "already exists", "--overwrite")
        assert out.read_bytes() == b"precious"
    status, _, err = run("filter", files["a"], files["a"], "--overwrite", capsys=capsys)
    assert status == 1
    assert_one_line_error(err, "also an input")


def test_failures_leave_no_output(files, tmp_path, capsys):
    _set_row(files["a"], 20, lambda row: row.__setitem__(8, -1.0))
    for command in ("shift", "cluster", "filter"):
        out = tmp_path / f"{command}.h5"
        args = [command, files["a"], out, "--chunk-size", 8]
        status, _, err = run(*args, capsys=capsys)
        assert status == 1, command
        assert_one_line_error(err, files["a"], "shower 20", alone=False)
    status, _, _ = run(
        "shuffle", files["a"], files["b"], tmp_path / "s.h5", capsys=capsys
    )
    assert status == 1
    assert sorted(os.listdir(tmp_path)) == ["a.h5", "b.h5", "c.h5"]


def test_debug_shows_the_exception(files, tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["--debug", "info", str(tmp_path / "missing.h5")])
    with pytest.raises(FileExistsError):
        main(["filter", files["a"], files["b"], "--debug"])


# -- as a program ----------------------------------------------------------------


def _program(*args):
    return subprocess.run(
        [sys.executable, "-m", "showerdata", *map(str, args)],
        capture_output=True,
        text=True,
    )


def test_as_a_program(files, tmp_path):
    out = tmp_path / "shuffled.h5"
    done = _program("shuffle", files["a"], files["b"], out, "--seed", 3, "--quiet")
    assert done.returncode == 0, done.stderr
    assert_same(loaded(out), shuffled([files["a"], files["b"]], seed=3).compute())
    assert "showers/s" in done.stdout

    done = _program("shuffle", files["a"], files["b"], out, "--seed", 3)
    assert done.returncode == 1
    assert_one_line_error(done.stderr, "already exists")

    done = _program("--debug", "verify", tmp_path / "missing.h5")
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "FileNotFoundError" in done.stderr


# -- conversion (needs showerdata.io.api.convert) -----------------------------


def test_convert_round_trip(files, tmp_path, capsys):
    store, back = tmp_path / "a.zarr", tmp_path / "back.h5"
    assert run("convert", files["a"], store, "--quiet") == 0
    assert run("convert", store, back, "--quiet", "--chunk-size", 16) == 0
    assert_same(loaded(store), loaded(files["a"]))
    assert_same(loaded(back), loaded(files["a"]))
    status, _, err = run("convert", files["a"], store, capsys=capsys)
    assert status == 1
    assert_one_line_error(err, "already exists")
    for bad in _not_shower_files(tmp_path):
        out = tmp_path / "bad.zarr"
        status, _, err = run("convert", bad, out, capsys=capsys)
        assert status == 1
        assert_one_line_error(err, str(bad))
        assert not out.exists()
