"""``showerdata precompile`` fills numba's cache; later processes only load it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Kernels the operations call from Python: each must be in the cache.
ENTRY_KERNELS = (
    "layout.count_real_points",
    "layout.first_invalid_shower",
    "heap.gather_heap_rows",
    "filtering._filter_kernel",
    "clustering._cluster_kernel",
    "shifting._shift_kernel",
    "observables._observables_kernel",
    "checks.first_shower_outside_layers",
)

#: In a fresh process: cluster, filter, shift and observables through the
#: kernels; prints the kernels numba had to compile (cache misses).
FIRST_USE = r"""
import numpy as np, showerdata
from showerdata.toy import toy_arrays
from showerdata.kernels.jit import all_kernels
from showerdata import validation
validation.SMALL_BLOCK_VALUES = 0
s = showerdata.Showers(**toy_arrays(0, 20, seed=3, max_points=16, angle_spread=0.2))
showerdata.cluster(s, seed=1)
showerdata.filter_showers(s, radius=100.0)
showerdata.shift(s)
showerdata.observables.calc_energy_per_layer(s, num_layers=78)
used = [k for k in all_kernels() if k.signatures]
print(len(used), [k.__name__ for k in used if k.dispatcher().stats.cache_misses])
"""


def run(args: list[str], cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd="/"
    )


@pytest.fixture(scope="module")
def precompiled(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    cache = tmp_path_factory.mktemp("numba-cache")
    return cache, run(["-m", "showerdata", "precompile"], cache)


def test_precompile_fills_the_cache_of_every_kernel_in_use(precompiled):
    cache, done = precompiled
    assert done.returncode == 0, done.stderr
    assert f"kernels are in numba's cache at {cache}" in done.stdout
    indexed = {p.name.split("-")[0] for p in cache.rglob("*.nbi")}
    for kernel in ENTRY_KERNELS:
        assert kernel in indexed, kernel


def test_after_precompile_a_new_process_compiles_nothing(precompiled):
    cache, _ = precompiled
    done = run(["-c", FIRST_USE], cache)
    assert done.returncode == 0, done.stderr
    used, compiled = done.stdout.split(" ", 1)
    assert int(used) >= 5
    assert compiled.strip() == "[]"


def test_without_precompile_the_first_process_compiles(tmp_path):
    """The check above can fail: an empty cache means compiling."""
    done = run(["-c", FIRST_USE], tmp_path / "empty")
    assert done.returncode == 0, done.stderr
    assert "_cluster_kernel" in done.stdout.split(" ", 1)[1]


def test_a_read_only_cache_says_where_and_what_to_set(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # nothing can be created below a file, even by root
    done = run(["-m", "showerdata", "precompile"], blocker / "cache")
    assert done.returncode == 1
    assert f"tried '{blocker / 'cache'}'" in done.stderr
    assert "Set NUMBA_CACHE_DIR to a writable directory" in done.stderr
    assert not any(tmp_path.rglob("*.nbi"))


#: Two threads meet a kernel for the first time, one while the other builds it
#: (every dispatcher after the first made slow to build): the second must get
#: the kernel with its callees typed, never a dispatcher whose callee is not
#: built yet (numba would remember that TypingError for good).
RACE = r"""
import threading, time, numba, numpy as np
from showerdata.kernels.clustering import grid_shifts
plain_njit = numba.njit
made = []
def slow_njit(*args, **options):
    if args:  # njit(function), as numba itself calls it
        return plain_njit(*args, **options)
    def decorate(function):
        if made:
            time.sleep(0.4)  # widens every window of the build
        made.append(function.__name__)
        return plain_njit(**options)(function)
    return decorate
numba.njit = slow_njit
errors = []
def first_call(k):
    try:
        grid_shifts(k, np.arange(10), 5.0, 30.0)
    except Exception as error:
        errors.append(repr(error)[:300])
callers = [threading.Thread(target=first_call, args=(k,)) for k in range(25)]
for caller in callers:  # one arrives every 0.3 s while the build goes on
    caller.start()
    time.sleep(0.3)
for caller in callers:
    caller.join()
first_call(99)
print(errors)
"""


def test_a_kernel_met_while_another_thread_builds_it_has_typed_callees(tmp_path):
    done = run(["-c", RACE], tmp_path / "cold-cache")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
