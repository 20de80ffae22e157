"""Files written under a temporary name, then renamed (showerdata/replacing.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from showerdata.replacing import WRITE_PIECE_BYTES, replacing, write_file


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


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "plot.png"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), replacing(str(path)) as partial:
        with open(partial, "wb") as handle:
            handle.write(b"half of the new")
        raise RuntimeError("killed")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["plot.png"]
