"""Files written under a temporary name, then renamed (showerdata/replacing.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import can_exchange_in

from showerdata import replacing as replacing_module
from showerdata.replacing import WRITE_PIECE_BYTES, exchange, replacing, write_file


def test_write_file_writes_every_byte_of_many_pieces(tmp_path):
    data = np.random.default_rng(0).integers(0, 255, 3 * WRITE_PIECE_BYTES + 17)
    data = data.astype(np.uint8)
    path = tmp_path / "chunk"
    path.write_bytes(b"old")
    write_file(str(path), data)
    assert path.read_bytes() == data.tobytes()
    write_file(str(path), memoryview(b""))
    assert path.read_bytes() == b""
    assert os.listdir(tmp_path) == ["chunk"]  # no temporary file left


def test_short_writes_are_continued(tmp_path, monkeypatch):
    # writev may write less than asked (a signal, a nearly full disk).
    real_writev = os.writev
    sizes = []

    def short_writev(fd, buffers):
        buffers = list(buffers)
        half = memoryview(buffers[0])[: max(1, len(buffers[0]) // 2 - 3)]
        sizes.append(len(half))
        return real_writev(fd, [half])

    monkeypatch.setattr(replacing_module.os, "writev", short_writev)
    data = np.random.default_rng(1).integers(0, 255, 5 * WRITE_PIECE_BYTES + 5)
    data = data.astype(np.uint8)
    path = tmp_path / "chunk"
    write_file(str(path), data)
    assert path.read_bytes() == data.tobytes()
    assert len(sizes) > 10  # it did take many short calls


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
