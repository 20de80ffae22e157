"""The benchmark cases: what each side runs and which targets it must meet.

A :class:`Case` has *sides* (ours, showerdata 0.7, a raw h5py baseline, ...),
each a snippet run in a fresh interpreter (see ``child.py``), and *checks*
comparing the sides' median times or bounding a side's peak RSS. To add a case,
write its snippets and append a :class:`Case` to the list :func:`build_cases`
returns.

Snippet conventions: ``PARAMS`` holds the side's parameters plus ``out`` (a
scratch output path the runner deletes afterwards); the snippet imports and
prepares what it needs, times only the operation with ``time.perf_counter``
and calls ``emit(seconds=..., ...)``. Emitting ``points`` (the number of real
points handled) lets the runner check that all sides did the same work.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workloads import DataSet, DataSpec

MiB = 2**20
GiB = 2**30

Interpreter = Literal["ours", "v07"]


@dataclass(frozen=True)
class Side:
    """One implementation of a case, run in ``interpreter``."""

    key: str  # short id used by checks and in results.json
    label: str  # shown in the report
    interpreter: Interpreter
    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """A target: ``time_ratio`` (median ours / median reference <= limit),
    ``speedup`` (median reference / median ours >= limit), ``peak_rss``
    (peak RSS of ``ours`` <= limit bytes; ``reference`` shown only),
    ``seconds`` (median time of ``ours`` <= limit seconds), ``margin``
    (median ours <= median reference + limit seconds) or ``rss_margin``
    (peak RSS of ours <= that of the reference + limit bytes).
    """

    label: str
    ours: str
    reference: str | None
    kind: Literal[
        "time_ratio", "speedup", "peak_rss", "seconds", "margin", "rss_margin"
    ]
    limit: float

    @property
    def target_text(self) -> str:
        """The target as shown in the report."""
        if self.kind == "peak_rss":
            return f"RSS <= {self.limit / GiB:g} GiB"
        if self.kind == "speedup":
            return f"speed-up >= {self.limit:g}"
        if self.kind == "seconds":
            return f"<= {self.limit * 1000:g} ms"
        if self.kind == "margin":
            return f"<= reference + {self.limit * 1000:g} ms"
        if self.kind == "rss_margin":
            return f"RSS <= reference + {self.limit / MiB:g} MiB"
        return f"ratio <= {self.limit:g}"


@dataclass(frozen=True)
class Case:
    """A benchmark case.

    ``requires`` names attributes of our ``showerdata`` the case needs; the
    runner skips (and reports) the case while any is missing. ``warmup`` runs
    every side once, untimed, before the repeats (numba compiles kernels on
    first use and caches them on disk; it also warms the page cache equally).
    """

    name: str
    summary: str
    sides: tuple[Side, ...]
    checks: tuple[Check, ...]
    data: tuple[DataSpec, ...]
    requires: tuple[str, ...] = ()
    warmup: bool = True
    notes: tuple[str, ...] = ()


# -- snippets ------------------------------------------------------------------------

# Reads an output file back after the timing, so every side reports the same
# fingerprint of what it wrote.
WRITTEN_POINTS = """
def written_points(path):
    import h5py
    with h5py.File(path, "r") as f:
        return int(f["num_points"][...].sum())
"""

# The raw h5py reader: whole vlen dataset, then padding with a simple loop.
RAW_LOAD = """
import h5py
import numpy as np

def raw_load(path):
    with h5py.File(path, "r") as f:
        rows = f["showers"][...]
        n, p, nf = (int(v) for v in f["shape"][...])
        points = np.zeros((n, p, nf), dtype=np.float32)
        for i, row in enumerate(rows):
            k = len(row) // nf
            points[i, :k] = row.reshape(k, nf)
        small = {
            name: f[name][...]
            for name in ("energies", "directions", "pdg", "shower_ids", "num_points")
        }
    return points, small
"""

LOAD_OURS = """
import showerdata
t0 = time.perf_counter()
showers = showerdata.load(PARAMS["path"]).compute()
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=int(showers.num_points.sum()))
"""

LOAD_V07 = """
import showerdata
t0 = time.perf_counter()
showers = showerdata.load(PARAMS["path"])
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=int(showers._num_points.sum()))
"""

LOAD_RAW = (
    RAW_LOAD
    + """
t0 = time.perf_counter()
points, small = raw_load(PARAMS["path"])
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=int(small["num_points"].sum()))
"""
)

SAVE_OURS = (
    WRITTEN_POINTS
    + """
import showerdata
showers = showerdata.load(PARAMS["path"]).compute()
assert not showers.is_lazy
t0 = time.perf_counter()
showers.save(PARAMS["out"])
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=written_points(PARAMS["out"]))
"""
)

SAVE_V07 = (
    WRITTEN_POINTS
    + """
import showerdata
showers = showerdata.load(PARAMS["path"])
t0 = time.perf_counter()
showers.save(PARAMS["out"])
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=written_points(PARAMS["out"]))
"""
)

# Unpadding into rows is part of the timed work, as in any save.
SAVE_RAW = (
    RAW_LOAD
    + WRITTEN_POINTS
    + """
points, small = raw_load(PARAMS["path"])
t0 = time.perf_counter()
counts = small["num_points"]
rows = [points[i, :k].reshape(-1) for i, k in enumerate(counts.tolist())]
with h5py.File(PARAMS["out"], "w") as f:
    vlen = h5py.vlen_dtype(np.dtype("float32"))
    f.create_dataset("showers", shape=(len(rows),), dtype=vlen)[...] = rows
    for name, values in small.items():
        f.create_dataset(name, data=values)
    f.create_dataset("shape", data=np.asarray(points.shape, dtype=np.int32))
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=written_points(PARAMS["out"]))
"""
)

# First call in the process (opens the file) is the measurement; later calls
# reuse the cached handle and are reported as `warm_median`.
OPEN_OURS = """
import statistics
import showerdata
t0 = time.perf_counter()
showers = showerdata.load(PARAMS["path"])
seconds = time.perf_counter() - t0
warm = []
for _ in range(20):
    t0 = time.perf_counter()
    showerdata.load(PARAMS["path"])
    warm.append(time.perf_counter() - t0)
emit(
    seconds=seconds,
    warm_median=statistics.median(warm),
    showers=len(showers),
    chunks=len(showers.chunks),
)
"""

RANDOM_OURS = """
import statistics
import showerdata
times, points = [], 0
for i in PARAMS["indices"]:
    t0 = time.perf_counter()
    one = showerdata.load(PARAMS["path"])[i].compute()
    times.append(time.perf_counter() - t0)
    points += int(one.num_points.sum())
emit(seconds=statistics.median(times), first=times[0], points=points)
"""

RANDOM_V07 = """
import statistics
import showerdata
times, points = [], 0
for i in PARAMS["indices"]:
    t0 = time.perf_counter()
    with showerdata.ShowerDataFile(PARAMS["path"]) as f:
        one = f[i]
    times.append(time.perf_counter() - t0)
    points += int(one._num_points.sum())
emit(seconds=statistics.median(times), first=times[0], points=points)
"""

STREAM_OURS = (
    WRITTEN_POINTS
    + """
import dask
import showerdata
with dask.config.set({"showerdata.chunk-bytes": PARAMS["chunk_bytes"]}):
    t0 = time.perf_counter()
    showers = showerdata.load(PARAMS["path"])
    showers.save(PARAMS["out"])
    seconds = time.perf_counter() - t0
emit(
    seconds=seconds,
    chunks=len(showers.chunks),
    points=written_points(PARAMS["out"]),
)
"""
)

STREAM_V07 = (
    WRITTEN_POINTS
    + """
import showerdata
t0 = time.perf_counter()
showers = showerdata.load(PARAMS["path"])
showers.save(PARAMS["out"])
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=written_points(PARAMS["out"]))
"""
)


# -- HDF5 row reader ------------------------------------------------------------------
# Issue 16, item 5: the global-heap row reader is kept only if it reads a whole
# file at least 1.3x as fast as h5py's own vlen read followed by padding. Ours
# is the default configuration, whatever reader that picks; the reference uses
# public h5py and numpy only, so the case measures the same thing if the fast
# reader is later put behind a switch or dropped. Sides with PARAMS["warm"]
# first read one shower, untimed: what a read costs in a process that has read
# before (numba kernels loaded from their cache, file open), not the first one.

HEAP_READ_OURS = """
import showerdata
if PARAMS["warm"]:
    showerdata.load(PARAMS["path"], stop=1).compute()
showers = showerdata.load(PARAMS["path"])
kwargs = {}
if PARAMS["threads"] > 1:
    kwargs = {"scheduler": "threads", "num_workers": PARAMS["threads"]}
t0 = time.perf_counter()
showers = showers.compute(**kwargs)
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=int(showers.num_points.sum()))
"""

# Pieces of ~64 MiB padded, as our chunks; every piece is read by h5py
# (f["showers"][a:b], one array per row) and padded by a slice copy per row.
# The padded block is an anonymous map, as ours: np.zeros would get huge pages,
# whose first touches cost several times more here, and vary.
HEAP_READ_H5PY = """
import mmap
import dask
import dask.array as da
import h5py
import numpy as np

def read_piece(ds, start, stop, p, nf, out=None):
    rows = ds[start:stop]
    if out is None:
        out = np.zeros((stop - start, p, nf), np.float32)
    for i, row in enumerate(rows):
        k = len(row) // nf
        if k:
            out[i, :k] = row.reshape(k, nf)
    return out

f = h5py.File(PARAMS["path"], "r")
ds = f["showers"]
n, p, nf = (int(v) for v in f["shape"][...])
if PARAMS["warm"]:
    read_piece(ds, 0, 1, p, nf)
piece = max(1, 64 * 2**20 // (p * nf * 4))
edges = [*range(0, n, piece), n]
t0 = time.perf_counter()
small = {
    name: f[name][...]
    for name in ("energies", "directions", "pdg", "shower_ids", "num_points")
}
if PARAMS["threads"] == 1:
    points = np.frombuffer(mmap.mmap(-1, n * p * nf * 4), np.float32)
    points = points.reshape(n, p, nf)
    for a, b in zip(edges[:-1], edges[1:]):
        read_piece(ds, a, b, p, nf, points[a:b])
else:  # dask's threaded scheduler, as ours computes with it
    blocks = [
        da.from_delayed(
            dask.delayed(read_piece)(ds, a, b, p, nf), (b - a, p, nf), np.float32
        )
        for a, b in zip(edges[:-1], edges[1:])
    ]
    points = da.concatenate(blocks).compute(
        scheduler="threads", num_workers=PARAMS["threads"]
    )
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=int(small["num_points"].sum()))
"""


def heap_read_cases(data: DataSet, directory: Path) -> list[Case]:
    """Whole-file HDF5 reads: our default reader against h5py's vlen read + pad.

    The main file, one thread and two, and a small file (2,000 x 200), each in
    a fresh process and after one read.
    """
    main = data.main
    small = DataSpec("heapread", 2_000, 200, main.num_features, batch=2_000)
    variants = {
        "": ("fresh process", {"threads": 1, "warm": False}),
        "_warm": ("after one read", {"threads": 1, "warm": True}),
        "2": ("dask threads x 2", {"threads": 2, "warm": False}),
    }
    cases = []
    for name, spec, keys in (
        ("hdf5_row_reader", main, ("", "_warm", "2")),
        ("hdf5_row_reader_small", small, ("", "_warm")),
    ):
        shape = f"{spec.num_showers:,} x {spec.max_points} x {spec.num_features}"
        sides, checks = [], []
        for key in keys:
            how, params = variants[key]
            params = {**params, "path": str(directory / spec.filename)}
            sides += [
                Side(
                    f"ours{key}",
                    f"ours: load().compute(), {how}",
                    "ours",
                    HEAP_READ_OURS,
                    dict(params),
                ),
                Side(
                    f"h5py{key}",
                    f"h5py: rows[a:b] + pad, {how}",
                    "ours",
                    HEAP_READ_H5PY,
                    dict(params),
                ),
            ]
            checks.append(
                Check(
                    f"vs h5py + pad, {how}", f"ours{key}", f"h5py{key}", "speedup", 1.3
                )
            )
        cases.append(
            Case(
                name=name,
                summary=(
                    f"Whole HDF5 file ({shape}) into padded numpy: our default "
                    "read vs h5py's vlen read + padding (keep our reader if >= 1.3x)."
                ),
                sides=tuple(sides),
                checks=tuple(checks),
                data=(spec,),
                notes=(
                    "Timed: the read of every dataset into memory (both sides read "
                    "the per-shower datasets too; ours also checks num_points and "
                    "energies).",
                    "'After one read': one shower was read first, untimed (numba "
                    "kernels loaded from their cache, file open).",
                    "With 2 threads both sides go through dask.compute, which "
                    "concatenates the chunks into the result.",
                ),
            )
        )
    return cases


# -- processing snippets ---------------------------------------------------------------
# Both sides load the same first PARAMS["stop"] showers into memory before the
# timing; ours keeps them in memory too (an in-memory op runs its numba kernel
# directly on one thread), except where a case chunks them for dask.

PROCESS_OURS = """
import dask
import showerdata
from showerdata import observables
from showerdata.detector import get_ILD_geometry
showers = showerdata.load(PARAMS["path"], stop=PARAMS["stop"]).compute()
if PARAMS.get("chunks"):
    showers = showers.chunk(PARAMS["chunks"])
operation = eval(PARAMS["ours"])
if PARAMS.get("load_kernels"):
    # Loading the cached numba kernels is one serial step of ~0.2 s, the same
    # for any number of threads; done first when a case measures scaling. So
    # is the first full garbage collection after the imports (~80 ms: it
    # visits every object of numba, dask and zarr), which would otherwise
    # fall into the timed compute.
    import gc
    operation(showers[:2]).compute()
    gc.collect()
with dask.config.set(scheduler="threads", num_workers=PARAMS.get("threads", 1)):
    t0 = time.perf_counter()
    result = operation(showers)
    result = result.compute() if hasattr(result, "compute") else result
    seconds = time.perf_counter() - t0
emit(seconds=seconds, fingerprint=fingerprint(result))
"""

PROCESS_V07 = """
import showerdata
from showerdata import observables
from showerdata.detector import get_ILD_geometry
showers = showerdata.load(PARAMS["path"], stop=PARAMS["stop"])
operation = eval(PARAMS["v07"])
t0 = time.perf_counter()
result = operation(showers)
seconds = time.perf_counter() - t0
emit(seconds=seconds, fingerprint=fingerprint(result))
"""

# What both sides report about a result so the runner sees the same work was done.
FINGERPRINT = """
def fingerprint(result):
    import numpy as np
    if hasattr(result, "points"):
        return int(np.count_nonzero(result.points[:, :, 3]))
    return int(np.asarray(result).size)
"""

PIPELINE_OURS = (
    WRITTEN_POINTS
    + """
import showerdata
t0 = time.perf_counter()
showers = showerdata.load(PARAMS["path"], stop=PARAMS["stop"])
filtered = showerdata.filter_showers(showers, 200.0, 1e-4, 2.5e-4)
showerdata.cluster(filtered, random_shift=False).save(PARAMS["out"])
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=written_points(PARAMS["out"]))
"""
)

# 0.7 as its command-line tools do it: a batch loop over ShowerDataFile.
PIPELINE_V07 = (
    WRITTEN_POINTS
    + """
import showerdata
from showerdata.filter import filter_showers
stop, batch = PARAMS["stop"], 1000
t0 = time.perf_counter()
with showerdata.ShowerDataFile(PARAMS["path"]) as source:
    shape = (stop, *source.shape[1:])
    with showerdata.ShowerDataFile(PARAMS["out"], "w", shape=shape) as target:
        for start in range(0, stop, batch):
            end = min(start + batch, stop)
            filtered = filter_showers(source[start:end], 200.0, 1e-4, 2.5e-4)
            target[start:end] = showerdata.cluster(filtered, random_shift=False)
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=written_points(PARAMS["out"]))
"""
)

OBSERVABLES = {
    "num_points_per_layer": "calc_num_points_per_layer",
    "energy_per_layer": "calc_energy_per_layer",
    "energy_per_radial_bin": "calc_energy_per_radial_bin",
    "center_of_energy": "calc_center_of_energy",
}


# -- cases ---------------------------------------------------------------------------


def stream_chunk_bytes(spec: DataSpec) -> int:
    """Chunk budget for ``stream_rss``: the default 64 MiB, or less for small files,
    so the padded data is at least 10 chunk budgets."""
    return max(MiB, min(64 * MiB, spec.padded_bytes // 10 // MiB * MiB))


def build_cases(data: DataSet, directory: Path) -> list[Case]:
    """All cases, for the files of ``data`` in ``directory`` (not created here)."""
    main = str(directory / data.main.filename)
    many = str(directory / data.many_small.filename)
    few = str(directory / data.few_small.filename)
    shape = f"{data.main.num_showers:,} x {data.main.max_points} x "
    shape += f"{data.main.num_features}"
    indices = random.Random(20240611).sample(range(data.main.num_showers), 20)
    chunk_bytes = stream_chunk_bytes(data.main)

    cases = [
        Case(
            name="load_full",
            summary=f"Read the whole main file ({shape}) into padded numpy arrays.",
            sides=(
                Side("ours", "ours: load(path).compute()", "ours", LOAD_OURS),
                Side("v07", "0.7: load(path)", "v07", LOAD_V07),
                Side("raw", "raw h5py: f['showers'][...] + pad loop", "ours", LOAD_RAW),
            ),
            checks=(
                Check("vs 0.7", "ours", "v07", "time_ratio", 1.0),
                Check("vs raw h5py", "ours", "raw", "time_ratio", 1.5),
            ),
            data=(data.main,),
        ),
        Case(
            name="save_memory",
            summary=f"Write in-memory showers ({shape}) to a new file.",
            sides=(
                Side("ours", "ours: showers.save(out)", "ours", SAVE_OURS),
                Side("v07", "0.7: showers.save(out)", "v07", SAVE_V07),
                Side("raw", "raw h5py: unpad + vlen write", "ours", SAVE_RAW),
            ),
            checks=(
                Check("vs 0.7", "ours", "v07", "time_ratio", 1.0),
                Check("vs raw h5py", "ours", "raw", "time_ratio", 1.25),
            ),
            data=(data.main,),
            notes=(
                "The showers are loaded before the timing (ours computed to numpy).",
                "The raw baseline times building the list of row views and the "
                "h5py writes of the vlen and per-shower datasets.",
            ),
        ),
        Case(
            name="load_open_scaling",
            summary=(
                "Open lazily (no compute): "
                f"{data.many_small.num_showers:,}-shower vs "
                f"{data.few_small.num_showers:,}-shower file, P = 10, F = 4."
            ),
            sides=(
                Side(
                    "big",
                    f"ours: load({data.many_small.filename})",
                    "ours",
                    OPEN_OURS,
                    {"path": many},
                ),
                Side(
                    "small",
                    f"ours: load({data.few_small.filename})",
                    "ours",
                    OPEN_OURS,
                    {"path": few},
                ),
            ),
            checks=(Check("big / small", "big", "small", "time_ratio", 2.0),),
            data=(data.many_small, data.few_small),
            notes=(
                "Timed: the first load() in the process (opens the file); "
                "`warm_median` is the median of 20 later calls (cached handle).",
            ),
        ),
        Case(
            name="random_access",
            summary=(
                f"{len(indices)} single showers at random positions of the main "
                "file, file opened per access; median per access incl. the first."
            ),
            sides=(
                Side(
                    "ours",
                    "ours: load(path)[i].compute()",
                    "ours",
                    RANDOM_OURS,
                    {"indices": indices},
                ),
                Side(
                    "v07",
                    "0.7: ShowerDataFile(path)[i]",
                    "v07",
                    RANDOM_V07,
                    {"indices": indices},
                ),
            ),
            checks=(Check("vs 0.7", "ours", "v07", "time_ratio", 2.0),),
            data=(data.main,),
        ),
        Case(
            name="stream_rss",
            summary=(
                f"load -> save of the main file ({shape}, "
                f"{data.main.padded_bytes / MiB:,.0f} MiB padded) "
                f"with showerdata.chunk-bytes = {chunk_bytes // MiB} MiB."
            ),
            sides=(
                Side(
                    "ours",
                    "ours: load(path).save(out), lazy",
                    "ours",
                    STREAM_OURS,
                    {"chunk_bytes": chunk_bytes},
                ),
                Side("v07", "0.7: load(path).save(out)", "v07", STREAM_V07),
            ),
            checks=(Check("peak RSS", "ours", "v07", "peak_rss", 1.0 * GiB),),
            data=(data.main,),
            notes=(
                "0.7 holds the whole file in memory; its RSS is shown for "
                "comparison only.",
            ),
        ),
    ]
    cases += processing_cases(data.main)
    from zarr_cases import zarr_cases  # it imports this module's building blocks

    cases += zarr_cases(data, directory)
    cases.append(shuffle_case(data, directory))
    from loader_cases import loader_cases  # it imports this module's building blocks

    cases += loader_cases(data, directory)
    cases += heap_read_cases(data, directory)
    for case in cases:
        for side in case.sides:
            # Sides without their own file read the main one.
            side.params.setdefault("path", main)
    return cases


def _processing_side(
    key: str, label: str, interpreter: Interpreter, **params: Any
) -> Side:
    code = PROCESS_OURS if interpreter == "ours" else PROCESS_V07
    return Side(key, label, interpreter, FINGERPRINT + code, params)


def processing_cases(spec: DataSpec) -> list[Case]:
    """filter, cluster, observables and the end-to-end job against 0.7."""
    stop = min(spec.num_showers, 8000)  # 0.7 clusters ~1,400 showers/s
    on = f"the first {stop:,} showers of the main file"
    cut = "lambda s: showerdata.filter_showers(s, 200.0, 1e-4, 2.5e-4)"
    grid = "lambda s: showerdata.cluster(s, random_shift=False)"
    cases = [
        Case(
            name="filter",
            summary=f"filter_showers (r < 200 mm, ILD thresholds) on {on}, in memory.",
            sides=(
                _processing_side("ours", "ours", "ours", stop=stop, ours=cut),
                _processing_side("v07", "0.7", "v07", stop=stop, v07=cut),
            ),
            checks=(Check("vs 0.7", "ours", "v07", "time_ratio", 0.5),),
            data=(spec,),
            requires=("filter_showers",),
        ),
        Case(
            name="cluster",
            summary=f"cluster(random_shift=False), ILD, on {on}, one thread.",
            sides=(
                _processing_side("ours", "ours", "ours", stop=stop, ours=grid),
                _processing_side("v07", "0.7", "v07", stop=stop, v07=grid),
            ),
            checks=(Check("vs 0.7", "ours", "v07", "time_ratio", 1 / 20),),
            data=(spec,),
            requires=("cluster",),
        ),
        Case(
            name="cluster_threads",
            summary=f"cluster of {on} as 8 dask chunks: 2 threads vs 1 thread.",
            sides=(
                _processing_side(
                    "two",
                    "ours, 2 threads",
                    "ours",
                    stop=stop,
                    ours=grid,
                    chunks=stop // 8,
                    threads=2,
                    load_kernels=True,
                ),
                _processing_side(
                    "one",
                    "ours, 1 thread",
                    "ours",
                    stop=stop,
                    ours=grid,
                    chunks=stop // 8,
                    threads=1,
                    load_kernels=True,
                ),
            ),
            checks=(
                Check("2 threads / 1 thread", "two", "one", "time_ratio", 1 / 1.8),
            ),
            data=(spec,),
            requires=("cluster",),
            notes=(
                "The cached kernels are loaded, and a full garbage collection run, "
                "before the timing, by both sides.",
            ),
        ),
        Case(
            name="pipeline",
            summary=(
                f"load -> filter -> cluster -> save of all {spec.num_showers:,} "
                "showers of the main file, file to file."
            ),
            sides=(
                Side(
                    "ours",
                    "ours: lazy graph, streamed",
                    "ours",
                    PIPELINE_OURS,
                    {"stop": stop},
                ),
                Side(
                    "v07",
                    "0.7: batch loop (as its CLI)",
                    "v07",
                    PIPELINE_V07,
                    {"stop": stop},
                ),
            ),
            checks=(Check("vs 0.7", "ours", "v07", "time_ratio", 0.1),),
            data=(spec,),
            requires=("cluster", "filter_showers"),
        ),
    ]
    ild = "get_ILD_geometry()"
    for name, function in OBSERVABLES.items():
        geometry = "detector_config=" + ild
        call = f"lambda s: observables.{function}(s, {geometry})"
        if "layer" in name:
            call = f"lambda s: observables.{function}(s, 78, {geometry})"
        cases.append(
            Case(
                name=f"observable_{name}",
                summary=f"observables.{function} with ILD thresholds on {on}.",
                sides=(
                    _processing_side("ours", "ours", "ours", stop=stop, ours=call),
                    _processing_side("v07", "0.7", "v07", stop=stop, v07=call),
                ),
                checks=(Check("vs 0.7", "ours", "v07", "time_ratio", 0.5),),
                data=(spec,),
                requires=("observables",),
            )
        )
    return cases


# -- shuffle ---------------------------------------------------------------------------
# Both sides run their ``showerdata shuffle`` command in the child, in process:
# the timing covers the command from parsing to the closed output file, not
# the interpreter's start-up and imports.

SHUFFLE_OURS = (
    WRITTEN_POINTS
    + """
import contextlib, io
from showerdata.cli import main
args = ["shuffle", *PARAMS["inputs"], PARAMS["out"], "--seed", "1", "--quiet"]
with contextlib.redirect_stdout(io.StringIO()) as printed:
    t0 = time.perf_counter()
    status = main(args)
    seconds = time.perf_counter() - t0
assert status == 0, printed.getvalue()
emit(seconds=seconds, points=written_points(PARAMS["out"]))
"""
)

SHUFFLE_V07 = (
    WRITTEN_POINTS
    + """
import contextlib, io
from showerdata.__main__ import main
sys.argv = ["showerdata", "shuffle", *PARAMS["inputs"], PARAMS["out"], "--seed", "1"]
with contextlib.redirect_stdout(io.StringIO()):
    t0 = time.perf_counter()
    status = main()
    seconds = time.perf_counter() - t0
assert status == 0
emit(seconds=seconds, points=written_points(PARAMS["out"]))
"""
)

# The floor of any shuffle of these files: h5py reads each output chunk's rows
# (sorted, per file) and writes them as they are, never padding anything.
SHUFFLE_RAW = (
    WRITTEN_POINTS
    + """
import h5py
import numpy as np
files = [h5py.File(p, "r") for p in PARAMS["inputs"]]
counts = [f["num_points"].shape[0] for f in files]
offsets = np.concatenate([[0], np.cumsum(counts)])
total, chunk = int(offsets[-1]), PARAMS["chunk"]
small = ("energies", "directions", "pdg", "shower_ids", "num_points")
t0 = time.perf_counter()
order = np.random.default_rng(1).permutation(total)
with h5py.File(PARAMS["out"], "w") as out:
    rows_out = out.create_dataset(
        "showers", shape=(total,), dtype=h5py.vlen_dtype(np.dtype("float32"))
    )
    fields_out = {
        n: out.create_dataset(n, shape=(total, *files[0][n].shape[1:]),
                              dtype=files[0][n].dtype)
        for n in small
    }
    for start in range(0, total, chunk):
        rows = order[start : start + chunk]
        source = np.searchsorted(offsets, rows, side="right") - 1
        block = np.empty(len(rows), dtype=object)
        values = {n: np.empty((len(rows), *fields_out[n].shape[1:]),
                              fields_out[n].dtype) for n in small}
        for i, f in enumerate(files):
            mine = np.flatnonzero(source == i)
            local = rows[mine] - offsets[i]
            sort = np.argsort(local)
            block[mine[sort]] = f["showers"][local[sort]]
            for n in small:
                values[n][mine[sort]] = f[n][local[sort]]
        space = rows_out.id.get_space()
        space.select_hyperslab((start,), (len(rows),))
        rows_out.id.write(h5py.h5s.create_simple((len(rows),)), space, block)
        for n in small:
            fields_out[n][start : start + len(rows)] = values[n]
    shape = (total, *files[0]["shape"][1:])
    out.create_dataset("shape", data=np.asarray(shape, dtype=np.int32))
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=written_points(PARAMS["out"]))
"""
)


def two_halves(data: DataSet) -> tuple[DataSpec, ...]:
    """Two toy files, each half the main file's size (a small production)."""
    main = data.main
    return tuple(
        DataSpec(
            f"shuffle_{part}",
            main.num_showers // 2,
            main.max_points,
            main.num_features,
            batch=main.batch,
            seed=seed,
        )
        for part, seed in (("a", 1), ("b", 2))
    )


def shuffle_case(data: DataSet, directory: Path) -> Case:
    """``showerdata shuffle`` of two toy files, each half the main file's size."""
    main = data.main
    half = main.num_showers // 2
    specs = two_halves(data)
    inputs = [str(directory / spec.filename) for spec in specs]
    shape = f"{half:,} x {main.max_points} x {main.num_features}"
    params = {"inputs": inputs}
    return Case(
        name="shuffle",
        summary=f"`showerdata shuffle` of two files of {shape} into one, seed 1.",
        sides=(
            Side("ours", "ours: showerdata shuffle", "ours", SHUFFLE_OURS, params),
            Side("v07", "0.7: showerdata shuffle", "v07", SHUFFLE_V07, params),
            Side(
                "raw",
                "raw h5py: rows read + written as they are (floor)",
                "ours",
                SHUFFLE_RAW,
                {**params, "chunk": 1000},
            ),
        ),
        checks=(
            Check("vs 0.7", "ours", "v07", "time_ratio", 0.2),
            Check("vs raw h5py", "ours", "raw", "time_ratio", 1.5),
            Check("peak RSS", "ours", "v07", "peak_rss", 1.0 * GiB),
        ),
        data=specs,
        notes=(
            "Timed: the command in process, from parsing its arguments to the "
            "closed output file (interpreter start-up and imports excluded).",
            "The raw side is the floor of any HDF5-to-HDF5 shuffle: h5py reads and "
            "writes the variable-length rows without padding or checks.",
        ),
    )
