"""Progress bars: shown where asked for, and nothing at all otherwise."""

from __future__ import annotations

import re

import pytest

import showerdata
from showerdata.progress import progress_bar


def test_a_hidden_bar_accepts_the_calls_of_a_shown_one(capsys):
    with progress_bar(False, total=3, unit="showers") as bar:
        bar.update(2)
    progress_bar(False, total=1).close()
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("suffix", [".h5", ".zarr", "-{:02d}.h5"])
@pytest.mark.parametrize("lazy", [True, False])
def test_save_draws_a_bar_only_when_asked(tmp_path, make_showers, capsys, suffix, lazy):
    showers = make_showers(n=30, max_points=10, num_features=4)
    data = showers.chunk(10) if lazy else showers
    per_file = {"showers_per_file": 12} if "{" in suffix else {}  # a pattern
    showerdata.save(data, str(tmp_path / f"quiet{suffix}"), **per_file)
    assert "showers" not in capsys.readouterr().err
    showerdata.save(data, str(tmp_path / f"loud{suffix}"), progress=True, **per_file)
    err = capsys.readouterr().err
    assert "30/30" in err and "showers" in err


def test_a_task_bar_always_shows_its_total(tmp_path, capsys):
    """Issue 21: the plot's bar read "plot toy-production.h5: 0tasks"."""
    from showerdata.cli import main

    path = tmp_path / "toy.h5"
    assert main(["generate", str(path), "--showers", "60", "--max-points", "50"]) == 0
    capsys.readouterr()
    assert main(["plot", str(path), "-o", str(tmp_path / "plot.png")]) == 0
    frames = re.split(r"[\r\n]+", capsys.readouterr().err)
    bars = [frame for frame in frames if frame.startswith("plot toy.h5")]
    assert bars
    for frame in bars:
        done, total = map(int, re.search(r"(\d+)/(\d+)", frame).groups())
        assert 0 < total and done <= total, frame
