"""Shared fixtures: seeded toy showers and the showerdata 0.7.0 interpreter."""

from __future__ import annotations

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
    built (``make test`` builds it).
    """
    python = _v07_python()
    if python is None:
        pytest.skip(
            "showerdata 0.7.0 environment not available (SHOWERDATA_V07_PYTHON)"
        )

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
    """Field-by-field exact equality (bit for bit for floats, -0.0 included)."""
    for name in showerdata.Showers.FIELDS:
        a = np.asarray(getattr(actual, name))
        e = np.asarray(
            expected[name] if isinstance(expected, dict) else getattr(expected, name)
        )
        assert a.dtype == e.dtype, name
        assert a.shape == e.shape, name
        assert a.tobytes() == e.tobytes(), name


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
