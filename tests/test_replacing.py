"""Files written under a temporary name, then renamed (showerdata/replacing.py)."""

from __future__ import annotations

import os

import pytest
from conftest import can_exchange_in

from showerdata.replacing import exchange, replacing


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "plot.png"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), replacing(str(path)) as partial:
        with open(partial, "wb") as handle:
            handle.write(b"half of the new")
        raise RuntimeError("killed")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["plot.png"]


def test_exchange_swaps_two_directories_in_one_step(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "a").write_bytes(b"old")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "b").write_bytes(b"new")
    swapped = exchange(str(tmp_path / "new"), str(tmp_path / "old"))
    # Linux (3.15+) and its local file systems can; elsewhere nothing moves.
    assert swapped or not can_exchange_in(tmp_path)
    first, second = ("new", "old") if swapped else ("old", "new")
    assert os.listdir(tmp_path / first) == ["a"]
    assert os.listdir(tmp_path / second) == ["b"]
    if swapped:  # a path that is not there is an error, not a False
        with pytest.raises(FileNotFoundError):
            exchange(str(tmp_path / "gone"), str(tmp_path / "old"))
