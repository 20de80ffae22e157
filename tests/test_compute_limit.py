"""``showerdata.max-compute-bytes``: compute() refuses results larger than the limit.

The limits here are a few KiB set through dask's config, so nothing large is
ever allocated.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
from dask.callbacks import Callback
from dask.utils import format_bytes

import showerdata
from showerdata import ShowerDataError, Showers, config
from showerdata.toy import toy_arrays

KEY = "showerdata.max-compute-bytes"
N = 12
CHUNK = 4


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return toy_arrays(0, N, seed=5, max_points=20, num_features=5)


@pytest.fixture(scope="module")
def stored(tmp_path_factory, data) -> Path:
    path = tmp_path_factory.mktemp("limit") / "showers.h5"
    showerdata.save(Showers(**data), path)
    return path


@pytest.fixture(params=["file", "chunk"])
def lazy(request, stored, data) -> Showers:
    if request.param == "file":
        return showerdata.load(stored, chunks=CHUNK)
    return Showers(**data).chunk(CHUNK)


@pytest.fixture
def nothing_runs(monkeypatch, lazy):
    """Make any read or task of ``lazy`` fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("compute() read or ran something")

    if lazy._source is not None:
        monkeypatch.setattr(type(lazy._source), "read", refuse)

    class Refuse(Callback):
        def _start(self, dsk):
            refuse()

    with Refuse():
        yield


def test_compute_over_the_limit_raises_before_reading(lazy, nothing_runs) -> None:
    size = lazy.nbytes
    with dask.config.set({KEY: size - 1}):
        with pytest.raises(ShowerDataError) as raised:
            lazy.compute()
        with pytest.raises(ShowerDataError):
            lazy.compute(scheduler="sync")
    message = str(raised.value)
    assert f"{N:,} showers would hold {format_bytes(size)}" in message
    assert f"max-compute-bytes = {format_bytes(size - 1)}" in message
    assert "showers.save(path)" in message
    assert "dask.config.set({'showerdata.max-compute-bytes': '1GiB'})" in message


def test_the_slice_the_message_suggests_computes(lazy) -> None:
    limit = lazy.nbytes // 3
    with dask.config.set({KEY: limit}):
        with pytest.raises(ShowerDataError) as raised:
            lazy.compute()
        count = int(re.search(r"showers\[:(\d+)\]\.compute\(\)", str(raised.value))[1])
        assert 0 < count < N
        part = lazy[:count].compute()
        assert part.nbytes <= limit
        with pytest.raises(ShowerDataError):
            lazy[: count + 1].compute()


def test_a_shower_larger_than_the_limit_suggests_one_shower(lazy) -> None:
    with dask.config.set({KEY: 1}):
        with pytest.raises(ShowerDataError) as raised:
            lazy.compute()
    assert "e.g. showers[:1].compute(), or loop" in str(raised.value)


def test_a_result_at_the_limit_computes(lazy, data) -> None:
    with dask.config.set({KEY: lazy.nbytes}):
        computed = lazy.compute()
    np.testing.assert_array_equal(computed.points, data["points"])
    with dask.config.set({KEY: format_bytes(lazy.nbytes + 1024)}):  # "5.1 kiB"
        lazy.compute()


@pytest.mark.parametrize("off", [None, 0])
def test_none_or_zero_disables_the_limit(monkeypatch, lazy, off) -> None:
    monkeypatch.setattr(config, "available_memory", lambda: 2)
    with pytest.raises(ShowerDataError):  # the default: half of 2 bytes
        lazy.compute()
    with dask.config.set({KEY: off}):
        assert config.max_compute_bytes() is None
        lazy.compute()


def test_the_default_is_half_the_available_memory(monkeypatch, lazy) -> None:
    monkeypatch.setattr(config, "available_memory", lambda: 2 * lazy.nbytes)
    lazy.compute()
    monkeypatch.setattr(config, "available_memory", lambda: 2 * lazy.nbytes - 2)
    with pytest.raises(ShowerDataError):
        lazy.compute()
    monkeypatch.setattr(config, "available_memory", lambda: None)  # unknown
    lazy.compute()


def test_in_memory_showers_and_small_parts_are_not_limited(lazy, data) -> None:
    in_memory = Showers(**data)
    with dask.config.set({KEY: 1}):
        assert in_memory.compute().points is in_memory.points
        with pytest.raises(ShowerDataError):
            lazy[0].compute()
    with dask.config.set({KEY: lazy[0].nbytes}):
        lazy[0].compute()


def test_the_particles_are_limited_too(stored) -> None:
    particles = showerdata.load_inc_particles(stored)
    with dask.config.set({KEY: particles.nbytes - 1}):
        with pytest.raises(ShowerDataError, match=r"12 particles would hold 240 B"):
            particles.compute()


def test_repr_gives_the_padded_size(lazy, data) -> None:
    size = format_bytes(lazy.nbytes)
    assert f"F=5, {size} padded, lazy: 3 chunks" in repr(lazy)
    assert f"F=5, {size} padded, in memory" in repr(Showers(**data))


@pytest.mark.parametrize(
    ("value", "expected"), [("4096", 4096), ("'4 kiB'", 4096), ("None", None)]
)
def test_the_limit_is_read_from_the_environment(value, expected) -> None:
    env = {**os.environ, "DASK_SHOWERDATA__MAX_COMPUTE_BYTES": value}
    script = "import showerdata; print(showerdata.config.max_compute_bytes())"
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(expected)


def test_a_cgroup_limit_bounds_the_available_memory(monkeypatch, tmp_path) -> None:
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    v2.mkdir()
    v1.mkdir()
    (v2 / "memory.max").write_text("1000\n")
    (v2 / "memory.current").write_text("400\n")
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # none
    (v1 / "memory.usage_in_bytes").write_text("5\n")
    files = (
        (str(v2), "", "memory.max", "memory.current"),
        (str(v1), "memory", "memory.limit_in_bytes", "memory.usage_in_bytes"),
    )
    monkeypatch.setattr(config, "_CGROUP_FILES", files)
    config._cgroup_limits.cache_clear()
    try:
        assert config._cgroup_room() == 600
        assert config.available_memory() == 600
        (v2 / "memory.max").write_text("max\n")  # no limit
        config._cgroup_limits.cache_clear()
        assert config._cgroup_room() is None
        assert config.available_memory() == config._system_available()
    finally:
        monkeypatch.undo()
        config._cgroup_limits.cache_clear()


def test_available_memory_is_known_here() -> None:
    available = config.available_memory()
    assert available is not None and available > 0


def test_a_shuffle_task_reading_its_part_is_not_limited(data) -> None:
    # The guard is for users' computes; a task reads one chunk whatever it is.
    from showerdata.shuffle import _read_now

    part = Showers(**data).chunk(CHUNK)[2:9]
    with dask.config.set({KEY: 1}):
        read = _read_now(part)
    np.testing.assert_array_equal(read.points, data["points"][2:9])


def test_the_suggested_limit_is_the_size_rounded_up_to_whole_gib(nothing_runs) -> None:
    # 300,000 showers x 800 points x 4 features x 4 bytes = 3.58 GiB of points
    points = da.zeros((300_000, 800, 4), dtype=np.float32, chunks=(10_000, 800, 4))
    huge = Showers(points, da.ones((300_000, 1), chunks=10_000), 22)
    with dask.config.set({KEY: "1GiB"}):
        with pytest.raises(ShowerDataError) as raised:
            huge.compute()
    assert "dask.config.set({'showerdata.max-compute-bytes': '4GiB'})" in str(
        raised.value
    )
