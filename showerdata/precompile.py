"""``showerdata precompile``: fill numba's cache with every kernel, ahead of time.

A kernel is compiled the first time a process calls it with new argument
types, and the machine code is kept in numba's on-disk cache for the next
processes. On a fresh install, or a cluster whose workers share a read-only
install, the first job of every kind pays the compilation. Precompiling runs
every operation of the library on a small toy production, through the kernel
paths, so that each kernel is compiled with the argument types the library
gives it, once, into a cache every later process reads.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CacheNotWritable", "PrecompileReport", "cache_directory", "precompile"]

KERNELS_DIRECTORY = Path(__file__).parent / "kernels"


class CacheNotWritable(OSError):
    """numba's cache cannot be written where numba would put it."""


@dataclass(frozen=True)
class PrecompileReport:
    """What :func:`precompile` did.

    Attributes
    ----------
    directory : str
        Where numba keeps the cache of the kernels.
    cached : list of str
        Kernels (``module.name``) with an entry in that cache.
    not_cached : list of str
        Kernels without one: helpers numba inlines into their callers, or
        kernels no operation of the library calls.
    """

    directory: str
    cached: list[str]
    not_cached: list[str]

    def line(self) -> str:
        """One line for the command line."""
        return (
            f"precompiled: {len(self.cached)} of "
            f"{len(self.cached) + len(self.not_cached)} kernels are in numba's cache "
            f"at {self.directory}"
        )


def cache_directory() -> str:
    """Where numba writes the kernels' cache, checked to be writable.

    ``NUMBA_CACHE_DIR`` if set; otherwise the ``__pycache__`` next to the
    kernels (numba's first choice), else numba's per-user cache directory.

    Raises
    ------
    CacheNotWritable
        None of them can be written; the message names what was tried and
        how to set ``NUMBA_CACHE_DIR``.
    """
    configured = os.environ.get("NUMBA_CACHE_DIR")
    candidates = (
        [configured]
        if configured
        else [str(KERNELS_DIRECTORY / "__pycache__"), _user_wide_directory()]
    )
    for candidate in candidates:
        if _writable(candidate):
            return candidate
    tried = ", ".join(f"'{c}'" for c in candidates)
    raise CacheNotWritable(
        f"cannot write numba's cache: tried {tried} (not writable). Set "
        "NUMBA_CACHE_DIR to a writable directory, e.g. NUMBA_CACHE_DIR=$HOME/"
        ".cache/numba showerdata precompile, and set the same NUMBA_CACHE_DIR "
        "wherever showerdata runs (a shared path for the workers of a cluster)."
    )


def _user_wide_directory() -> str:
    # numba's per-user cache (numba/core/caching.py, _UserWideCacheLocator);
    # XDG_CACHE_HOME as on Linux, where the paths are documented.
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "numba")


def _writable(directory: str) -> bool:
    """Whether a file can be created in ``directory`` (created if missing).

    Tried for real: ``os.access`` says yes to root on a read-only mount.
    """
    probe = os.path.join(directory, f".showerdata-probe-{uuid.uuid4().hex[:8]}")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError:
        return False
    return True


@contextmanager
def _kernel_paths() -> Iterator[None]:
    """Send every block through the kernels, however small (see validation)."""
    from . import validation
    from .io.hdf5 import read as hdf5_read

    saved = validation.SMALL_BLOCK_VALUES, hdf5_read.SMALL_BLOCK_VALUES
    validation.SMALL_BLOCK_VALUES = hdf5_read.SMALL_BLOCK_VALUES = 0
    try:
        yield
    finally:
        validation.SMALL_BLOCK_VALUES, hdf5_read.SMALL_BLOCK_VALUES = saved


def _workload(directory: Path) -> None:
    """Every operation, lazy and in memory, for 4 and 5 features."""
    import dask

    from . import observables
    from .detector import get_test_geometry
    from .io.api import create_empty_file, load, save, save_batch
    from .io.datafile import ShowerDataFile
    from .ops.clustering import cluster
    from .ops.filtering import filter_showers
    from .ops.shifting import shift
    from .showers import Showers, concatenate
    from .toy import toy_arrays

    geometry = get_test_geometry(78, 0.1)
    with dask.config.set(scheduler="sync"):
        for features in (4, 5):
            arrays = toy_arrays(
                0, 24, seed=1, max_points=16, num_features=features, angle_spread=0.2
            )
            showers = Showers(**arrays)
            counted = {k: v for k, v in arrays.items() if k != "num_points"}
            Showers(**counted).chunk(10).compute()  # num_points counted
            path = directory / f"toy-{features}.h5"
            save(showers, path)
            batched = directory / f"batched-{features}.h5"
            create_empty_file(batched, showers.points.shape)
            save_batch(showers.chunk(10), batched)
            for data in (load(path, chunks=10), load(path).compute()):
                data.compute()
                data[[1, 5, 3]].compute()
                concatenate([data[:3], data[5:9]]).compute()
                filter_showers(data, radius=200.0, ecal_threshold=0.001).compute()
                cluster(data, seed=1).compute()
                cluster(data, random_shift=False).compute()
                shift(data).compute()
                shift(data, inverse=True).compute()
                for function in (
                    observables.calc_num_points_per_layer,
                    observables.calc_energy_per_layer,
                    observables.calc_energy_per_radial_bin,
                    observables.calc_center_of_energy,
                ):
                    result = function(data, detector_config=geometry)
                    np.asarray(result)
                observables.calc_observables(data, geometry)
            with ShowerDataFile(path) as file:
                file[2:9]
            observables.add_observables_to_file(path, detector_config=geometry)


def precompile() -> PrecompileReport:
    """Compile every kernel the operations use into numba's on-disk cache.

    Returns
    -------
    PrecompileReport
        The cache directory and the signatures per kernel.

    Raises
    ------
    CacheNotWritable
        The cache cannot be written (see :func:`cache_directory`); nothing
        was compiled.
    """
    directory = cache_directory()
    from .kernels.jit import all_kernels

    kernels = list(all_kernels())
    with tempfile.TemporaryDirectory() as work, _kernel_paths():
        _workload(Path(work))
    # numba names a kernel's index file "<module file>.<name>-<line>.py<ver>.nbi".
    indexed = {path.name.split("-")[0] for path in Path(directory).rglob("*.nbi")}
    cached, not_cached = [], []
    for k in kernels:
        stem = Path(k.py_func.__code__.co_filename).stem
        name = f"{k.__module__}.{k.__name__}"
        (cached if f"{stem}.{k.__name__}" in indexed else not_cached).append(name)
    return PrecompileReport(directory, sorted(cached), sorted(not_cached))
