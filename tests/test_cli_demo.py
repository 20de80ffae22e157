"""The command line and the demo job, run for real on small toy productions."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
from dask.utils import format_bytes

import showerdata
from showerdata.cli import main
from showerdata.demo import DEMO_FILES, run_demo


def test_demo_runs_the_main_job(tmp_path, capsys):
    steps = run_demo(tmp_path, num_showers=300, max_points=200, progress=False)
    assert [s.name for s in steps] == [
        "generate + save",
        "filter + cluster + save",
        "observables",
        "convert to zarr",
        "plot",
    ]
    # The zarr mirror holds the same showers and observables.
    store = showerdata.load(tmp_path / "clustered.zarr").compute()
    assert store == showerdata.load(tmp_path / "clustered.h5").compute()
    read = showerdata.observables.read_observables_from_file
    np.testing.assert_array_equal(
        read(tmp_path / "clustered.zarr")["energy_per_layer"],
        read(tmp_path / "clustered.h5")["energy_per_layer"],
    )
    assert (tmp_path / "observables.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    clustered = showerdata.load(tmp_path / "clustered.h5")
    production = showerdata.load(tmp_path / "toy-production.h5")
    assert len(clustered) == len(production) == 300
    # clustering merges hits: never more cells than hits
    assert (clustered.num_points.compute() <= production.num_points.compute()).all()
    metadata = showerdata.load_metadata(tmp_path / "clustered.h5")
    assert metadata["clustered_for"] == "ILD"
    assert metadata["observables_computed_for"] == "ILD"
    read = showerdata.observables.read_observables_from_file(tmp_path / "clustered.h5")
    assert read["energy_per_layer"].shape == (300, 78)
    out = capsys.readouterr().out
    assert "summary" in out and "peak memory" in out


def test_generate_and_info(tmp_path, capsys):
    path = tmp_path / "toy.h5"
    args = ["generate", str(path), "--showers", "40", "--max-points", "50", "--quiet"]
    assert main([*args, "--features", "4"]) == 0
    assert showerdata.get_file_shape(path) == (40, 50, 4)
    assert main(args) == 1  # exists, no --overwrite: one clear line, no traceback
    err = capsys.readouterr().err
    assert err.startswith("showerdata: error:") and "already exists" in err
    assert "Traceback" not in err
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "40 showers, P = 50, F = 4" in out
    expected = showerdata.load(path).num_points.compute()
    assert f"max {expected.max()}" in out and np.all(expected <= 50)


def test_missing_input_exits_nonzero_with_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "showerdata", "info", str(tmp_path / "none.h5")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "No such shower file" in done.stderr


def test_demo_says_where_and_how_much_and_cleans_up(tmp_path, capsys):
    output = tmp_path / "demo"
    output.mkdir()
    (output / "notes.txt").write_text("mine")  # not the demo's: must stay
    assert main(["demo", "--output", str(output), "--showers", "200",
                 "--max-points", "100", "--quiet"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    # Before the work: where, and a bound on the size (3 x the padded size of
    # 200 x 100 x 5 float32 points plus 7 numbers per shower: energy, direction,
    # pdg, id and count).
    padded = 200 * (100 * 5 * 4 + 7 * 4)
    assert f"into {output.resolve()}" in out.splitlines()[0]
    assert format_bytes(3 * padded) in out.splitlines()[0]
    # After: the size of every file it wrote, and the total.
    written = {
        name: sum(f.stat().st_size for f in (output / name).rglob("*") if f.is_file())
        if (output / name).is_dir()
        else (output / name).stat().st_size
        for name in DEMO_FILES
    }
    assert f"wrote {format_bytes(sum(written.values()))} into" in out
    for name, size in written.items():
        assert re.search(rf"{re.escape(name)}\s+{re.escape(format_bytes(size))}", out)
    assert main(["demo", "--output", str(output), "--clean"]) == 0
    assert f"removed {format_bytes(sum(written.values()))}" in capsys.readouterr().out
    assert sorted(p.name for p in output.iterdir()) == ["notes.txt"]
    (output / "notes.txt").unlink()
    run_demo(output, num_showers=20, max_points=30, progress=False)
    assert main(["demo", "--output", str(output), "--clean"]) == 0
    assert not output.exists()  # emptied: the directory goes too
