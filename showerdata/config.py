"""Settings read from dask's configuration, so users set them the dask way.

>>> import dask
>>> with dask.config.set({"showerdata.chunk-bytes": "16MiB"}):
...     showers = showerdata.load("big.h5")  # doctest: +SKIP
>>> dask.config.set({"showerdata.max-compute-bytes": "32GiB"})  # doctest: +SKIP

or with environment variables, e.g. ``DASK_SHOWERDATA__MAX_COMPUTE_BYTES=32GiB``.

``showerdata.lazy`` (default True) chooses what the readers return:
``DASK_SHOWERDATA__LAZY=False`` runs unchanged showerdata 0.7 programs, which
expect numpy arrays from ``load``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import dask
from dask.utils import parse_bytes

CHUNK_BYTES_KEY = "showerdata.chunk-bytes"
DEFAULT_CHUNK_BYTES = 64 * 2**20
#: Padded points of one inner chunk of a zarr shard: what one shower costs to read.
INNER_CHUNK_BYTES = 512 * 2**10

LAZY_KEY = "showerdata.lazy"
DEFAULT_LAZY = True

MAX_COMPUTE_BYTES_KEY = "showerdata.max-compute-bytes"
#: Read HDF5 point rows by copying them from the file's heap with a numba
#: kernel (True) or through h5py's vlen read (False, the reference path).
HDF5_FAST_READER_KEY = "showerdata.hdf5-fast-reader"
#: The default of ``showerdata.max-compute-bytes``: this fraction of the memory
#: available when ``compute`` is called.
MAX_COMPUTE_FRACTION = 0.5


def chunk_bytes() -> int:
    """Target size in bytes of one padded ``points`` chunk."""
    value = dask.config.get(CHUNK_BYTES_KEY, DEFAULT_CHUNK_BYTES)
    return parse_bytes(value) if isinstance(value, str) else int(value)


def showers_per_chunk(max_points: int, num_features: int) -> int:
    """Chunk length along the shower axis for padded points of this shape.

    Chosen so that one padded float32 chunk is about :func:`chunk_bytes`; at
    least one shower per chunk. Where a chunk holds several inner chunks of a
    zarr shard (:func:`inner_chunk_length`), it holds a whole number of them,
    so data read from any file can be saved to zarr without rechunking.
    """
    bytes_per_shower = max(1, max_points) * max(1, num_features) * 4
    length = max(1, chunk_bytes() // bytes_per_shower)
    inner = max(1, INNER_CHUNK_BYTES // bytes_per_shower)
    return length - length % inner if length >= inner else length


def inner_chunk_length(shard_length: int, max_points: int, num_features: int) -> int:
    """Showers per inner chunk of a zarr shard of ``shard_length`` showers.

    About :data:`INNER_CHUNK_BYTES` of padded points, and a divisor of the
    shard length (zarr needs shards made of whole inner chunks).
    """
    bytes_per_shower = max(1, max_points) * max(1, num_features) * 4
    target = max(1, min(shard_length, INNER_CHUNK_BYTES // bytes_per_shower))
    return next(n for n in range(target, 0, -1) if shard_length % n == 0)


def hdf5_fast_reader() -> bool | None:
    """Which reader reads HDF5 rows (see :data:`HDF5_FAST_READER_KEY`).

    True: the heap reader; False: h5py's vlen read; None (``"auto"``, the
    default): the heap reader for blocks large enough to pay for setting up
    its kernel, h5py for small ones. Set it with
    ``dask.config.set({"showerdata.hdf5-fast-reader": False})`` or the
    environment variable ``DASK_SHOWERDATA__HDF5_FAST_READER=False``.
    """
    value = dask.config.get(HDF5_FAST_READER_KEY, "auto")
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return None
        return text not in ("false", "0", "no", "off")
    return bool(value)


def chunk_lengths(num_showers: int, chunk_length: int) -> tuple[int, ...]:
    """Split ``num_showers`` into chunks of ``chunk_length`` (last one shorter)."""
    if num_showers == 0:
        return (0,)
    full, rest = divmod(num_showers, chunk_length)
    return (chunk_length,) * full + ((rest,) if rest else ())


def lazy() -> bool:
    """Whether the readers return lazy (dask) results; ``showerdata.lazy``.

    True (the default): ``load``, ``load_inc_particles`` and ``load_target``
    return dask-backed objects and read nothing but the layout. False (the
    showerdata 0.7 mode): they read what was asked for and return numpy
    arrays, as 0.7 did, so 0.7 code that hands ``load(path).points`` to
    numpy-only libraries runs unchanged. Set it with
    ``dask.config.set({"showerdata.lazy": False})`` or the environment variable
    ``DASK_SHOWERDATA__LAZY=False`` (also ``0``, ``no``, ``off``).
    """
    value = dask.config.get(LAZY_KEY, DEFAULT_LAZY)
    if isinstance(value, str):
        # dask parses "False" and "0" from the environment, not "no" or "off".
        text = value.strip().lower()
        if text in ("false", "0", "no", "off", ""):
            return False
        if text in ("true", "1", "yes", "on"):
            return True
        raise ValueError(
            f"{LAZY_KEY} must be True or False, got {value!r} "
            "(e.g. DASK_SHOWERDATA__LAZY=False)."
        )
    return bool(value)


def max_compute_bytes() -> int | None:
    """Largest result in bytes ``Showers.compute()`` builds, or None for no limit.

    Set ``showerdata.max-compute-bytes`` the dask way (an int, a string such as
    ``"16GiB"``, or ``None``/``0`` for no limit), e.g. with
    ``dask.config.set({"showerdata.max-compute-bytes": "16GiB"})`` or the
    environment variable ``DASK_SHOWERDATA__MAX_COMPUTE_BYTES``. The default,
    ``"auto"``, is half (``MAX_COMPUTE_FRACTION``) of :func:`available_memory`,
    measured at each call since what is free changes during a session: a
    compute that concatenates its chunks holds the result twice at its peak,
    so half of what is free is the most that completes without swapping or
    the out-of-memory killer ending the session.
    """
    value = dask.config.get(MAX_COMPUTE_BYTES_KEY, "auto")
    if value == "auto":
        available = available_memory()
        return None if available is None else int(available * MAX_COMPUTE_FRACTION)
    if not value:  # None, 0, "" or False
        return None
    limit = parse_bytes(value) if isinstance(value, str) else int(value)
    return limit if limit > 0 else None


def available_memory() -> int | None:
    """Bytes this process can still allocate, or None where we cannot tell.

    The least of the system's available memory (``MemAvailable`` of
    ``/proc/meminfo``, which counts reclaimable caches; else the free physical
    pages) and the room left under a cgroup memory limit, which is what
    batch systems and containers enforce whatever the machine has.
    """
    candidates = [_system_available(), _cgroup_room()]
    known = [c for c in candidates if c is not None]
    return min(known) if known else None


def _system_available() -> int | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    # Free pages where there is no /proc (BSDs); the whole memory where not
    # even that (macOS): a generous bound is still a bound.
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            return os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):  # not on Windows
            continue
    return None


# (limit, usage) files of cgroup v2 and v1, under the hierarchy's mount point.
_CGROUP_FILES = (
    ("/sys/fs/cgroup", "", "memory.max", "memory.current"),
    (
        "/sys/fs/cgroup/memory",
        "memory",
        "memory.limit_in_bytes",
        "memory.usage_in_bytes",
    ),
)


def _cgroup_room() -> int | None:
    """Bytes left under the tightest cgroup memory limit of this process, if any."""
    rooms = []
    for limit, usage_file in _cgroup_limits():
        try:
            rooms.append(max(0, limit - int(usage_file.read_text())))
        except (OSError, ValueError):
            continue
    return min(rooms) if rooms else None


@functools.cache
def _cgroup_limits() -> tuple[tuple[int, Path], ...]:
    """(limit, usage file) of each cgroup of this process that sets a limit.

    Looked up once: processes rarely change groups, and probing every level
    of both hierarchies costs as much as reading a shower.
    """
    limits = []
    for mount, controller, limit_name, usage_name in _CGROUP_FILES:
        for directory in _cgroup_directories(mount, controller):
            try:
                text = (directory / limit_name).read_text().strip()
            except OSError:
                continue
            if text.isdigit() and int(text) < 2**62:  # "max" or ~2**63: no limit
                limits.append((int(text), directory / usage_name))
    return tuple(limits)


def _cgroup_directories(mount: str, controller: str) -> list[Path]:
    """The cgroup directories of this process in one hierarchy, outermost first.

    The limit of every ancestor applies too. In a container the mount point
    is the process's own group and the paths in /proc/self/cgroup do not exist.
    """
    directories = [Path(mount)]
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return directories
    for line in lines:
        _, controllers, path = line.split(":", 2)
        # v2's single line names no controller ("0::/path"), v1's name theirs.
        if controller in controllers.split(",") and path.startswith("/"):
            parts = Path(path).parts[1:]
            directories += [Path(mount, *parts[:i]) for i in range(1, len(parts) + 1)]
    return directories
