"""Shared fixtures: seeded toy showers and the showerdata 0.7.0 interpreter."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import showerdata
from showerdata.toy import toy_arrays

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))


@pytest.fixture
def make_showers():
    """Factory of in-memory toy Showers: ``make_showers(n, max_points, features)``."""

    def make(n: int = 50, max_points: int = 40, num_features: int = 5, seed: int = 1):
        arrays = toy_arrays(
            0, n, seed=seed, max_points=max_points, num_features=num_features
        )
        return showerdata.Showers(**arrays)

    return make


def v07_environment() -> dict[str, str]:
    """The environment for 0.7.0's interpreter: without our package on its path.

    A PYTHONPATH pointing at a checkout of ours (as when running the tests of a
    worktree) would shadow 0.7.0, which has the same import name.
    """
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _v07_python() -> str | None:
    python = os.environ.get("SHOWERDATA_V07_PYTHON")
    if not python or not os.path.exists(python):
        return None
    probe = subprocess.run(
        [python, "-c", "import showerdata; print(showerdata.__version__)"],
        capture_output=True,
        text=True,
        cwd="/",  # keep our own package off its path
        env=v07_environment(),
    )
    return python if probe.stdout.strip() == "0.7.0" else None


@pytest.fixture(scope="session")
def v07():
    """Run code under showerdata 0.7.0 in its own interpreter.

    ``v07(script, *args)`` runs ``script`` with ``args`` in ``sys.argv`` and
    returns what it printed as JSON. Skips where that environment could not be
    built (``make test`` builds it), and fails instead under ``CI``.
    """
    python = _v07_python()
    if python is None:
        message = "showerdata 0.7.0 environment not available (SHOWERDATA_V07_PYTHON)"
        if os.environ.get("CI"):
            # Interchange with 0.7 is what these tests are for: in CI its
            # absence is a failure, never a quiet skip.
            pytest.fail(f"{message}; `make test` builds it", pytrace=False)
        pytest.skip(message)

    def run(script: str, *args: str):
        done = subprocess.run(
            [python, "-c", script, *args],
            capture_output=True,
            text=True,
            cwd="/",
            env=v07_environment(),
        )
        if done.returncode != 0:
            raise AssertionError(f"showerdata 0.7.0 failed:\n{done.stderr}")
        return json.loads(done.stdout)

    return run


def assert_showers_equal(
    actual: showerdata.Showers, expected: dict | showerdata.Showers
):
    """Field-by-field exact equality (bit for bit for floats, -0.0 included).

    Parameters
    ----------
    actual : Showers
        Showers under test (lazy ones are computed).
    expected : dict or Showers
        Reference values, by field name.

    Raises
    ------
    AssertionError
        Naming the first field that differs (in ``Showers.FIELDS`` order) and,
        for values, the first shower that differs and how many do.
    """
    for name in showerdata.Showers.FIELDS:
        a = np.asarray(getattr(actual, name))
        e = np.asarray(
            expected[name] if isinstance(expected, dict) else getattr(expected, name)
        )
        assert_arrays_equal(a, e, f"field {name!r}")


def assert_arrays_equal(actual, expected: np.ndarray, name: str) -> None:
    """Exact equality of per-shower arrays: dtype, shape and every byte.

    Parameters
    ----------
    actual : array_like
        Array under test, showers along the first axis (dask arrays are
        computed).
    expected : numpy.ndarray
        Reference values.
    name : str
        What is compared, for the message.

    Raises
    ------
    AssertionError
        Naming the dtypes or shapes, or the first differing shower (and point).
    """
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.dtype == e.dtype, f"{name}: dtype {a.dtype} != {e.dtype}"
    assert a.shape == e.shape, f"{name}: shape {a.shape} != {e.shape}"
    if a.tobytes() != e.tobytes():
        raise AssertionError(_first_difference(name, a, e))


def _first_difference(name: str, actual: np.ndarray, expected: np.ndarray) -> str:
    """Where two arrays of one dtype and shape differ in their bytes, as text."""
    actual, expected = np.ascontiguousarray(actual), np.ascontiguousarray(expected)
    rows = len(actual)
    as_bytes = [x.view(np.uint8).reshape(rows, -1) for x in (actual, expected)]
    differs = (as_bytes[0] != as_bytes[1]).any(axis=1)
    shower = int(np.argmax(differs))
    text = (
        f"{name} differs in {int(differs.sum())} of {rows} showers; "
        f"first differing shower: {shower}"
    )
    a, e = actual[shower], expected[shower]
    if a.ndim == 2:  # points: name the first point that differs
        point = int(np.argmax((a.view(np.uint8) != e.view(np.uint8)).any(axis=1)))
        text += f", point {point}"
        a, e = a[point], e[point]
    return f"{text}: actual {a}, expected {e}"


#: File systems whose Linux drivers swap two paths in one rename
#: (renameat2 RENAME_EXCHANGE).
EXCHANGING_FILE_SYSTEMS = {"ext4", "xfs", "btrfs", "tmpfs", "f2fs"}


def can_exchange_in(directory: Path) -> bool:
    """Whether ``directory`` is on Linux, on a file system known to swap paths.

    Read from /proc/self/mountinfo, independently of the code under test.
    """
    if not sys.platform.startswith("linux"):
        return False
    device = os.stat(directory).st_dev
    wanted = f"{os.major(device)}:{os.minor(device)}"
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[2] == wanted:
            return fields[fields.index("-") + 1] in EXCHANGING_FILE_SYSTEMS
    return False


@pytest.fixture(params=[True, False], ids=["heap reader", "h5py reader"])
def hdf5_reader(request, monkeypatch):
    """Run a test with each HDF5 row reader; h5py's is the reference path."""
    import dask

    with dask.config.set({"showerdata.hdf5-fast-reader": request.param}):
        if not request.param:
            from showerdata.io.hdf5 import heap_rows

            def refuse(*args, **kwargs):
                raise AssertionError("the heap reader ran although switched off")

            monkeypatch.setattr(heap_rows, "gather_heap_rows", refuse)
        yield request.param


@pytest.fixture(scope="session")
def loader_production(tmp_path_factory) -> list[str]:
    """Five HDF5 files of 1, 0, 37, 23 and 40 showers, one incident energy each."""
    directory = tmp_path_factory.mktemp("loader")
    paths = []
    start = 0
    for number, size in enumerate((1, 0, 37, 23, 40)):
        arrays = toy_arrays(start, start + size, seed=11, max_points=30 + 7 * number)
        arrays["energies"] = np.full((size, 1), 10.0 * (number + 1), np.float32)
        path = directory / f"part-{number}.h5"
        showerdata.save(showerdata.Showers(**arrays), path)
        paths.append(str(path))
        start += size
    return paths


def digest(path: Path) -> str:
    """Hash of a file's bytes, or of every file of a directory store."""
    sha = hashlib.sha256()
    files = (
        [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    )
    for file in files:
        sha.update(os.fspath(file.relative_to(path)).encode())
        sha.update(file.read_bytes())
    return sha.hexdigest()
