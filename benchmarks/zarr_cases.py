"""Benchmark cases of the zarr backend (see ``cases.py`` for the conventions).

The reference of a zarr path is zarr-python itself: the same arrays read or
written with zarr's public API (``zarr.open_array(...)[...]``, ``create_array``
+ ``array[...] = values``) in a fresh interpreter. Every store is made from
the main HDF5 file, converted once, untimed, by the first side that needs it.
"""

from __future__ import annotations

import random
from pathlib import Path

from cases import Case, Check, Side
from workloads import DataSet

# The store converted from the main file, beside it; converted again when the
# layout version of our package changed since. A zarr-python side passes
# check=False (the side of ours before it in the case made the store), so it
# runs without importing showerdata.
ENSURE_STORE = """
import json
import os

def ensure_store(path, check=True):
    store = path[: -len(".h5")] + ".zarr"
    if not check and os.path.exists(store):
        return store
    try:
        with open(os.path.join(store, "zarr.json")) as f:
            version = json.load(f)["attributes"]["showerdata_layout_version"]
    except (OSError, KeyError, ValueError):
        version = None
    import showerdata
    from showerdata.io.zarr.store import LAYOUT_VERSION
    if version != LAYOUT_VERSION:
        import shutil
        shutil.rmtree(store, ignore_errors=True)
        showerdata.convert(path, store)
    return store
"""

# Arrays of a showers store that hold data (not the save's chunk record).
STORE_ARRAYS = """
ARRAYS = ("showers", "energies", "directions", "pdg", "shower_ids", "num_points")
"""

STORE_POINTS = """
def store_points(path):
    import zarr
    return int(zarr.open_array(path, path="num_points", mode="r")[...].sum())
"""

LOAD_OURS = (
    ENSURE_STORE
    + """
import showerdata
store = ensure_store(PARAMS["path"])
t0, c0 = time.perf_counter(), time.process_time()
showers = showerdata.load(store).compute()
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
emit(seconds=seconds, cpu=cpu, points=int(showers.num_points.sum()))
"""
)

# zarr-python alone: open each array and read it whole into numpy.
LOAD_ZARR = (
    ENSURE_STORE
    + STORE_ARRAYS
    + """
import zarr
store = ensure_store(PARAMS["path"], check=False)
t0, c0 = time.perf_counter(), time.process_time()
arrays = {name: zarr.open_array(store, path=name, mode="r")[...] for name in ARRAYS}
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
emit(seconds=seconds, cpu=cpu, points=int(arrays["num_points"].sum()))
"""
)

SAVE_OURS = (
    STORE_POINTS
    + """
import showerdata
showers = showerdata.load(PARAMS["path"]).compute()
assert not showers.is_lazy
out = PARAMS["out"] + ".zarr"
t0, c0 = time.perf_counter(), time.process_time()
showers.save(out)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
emit(seconds=seconds, cpu=cpu, points=store_points(out))
"""
)

# zarr-python alone writes the same padded arrays (as load gives them) with
# the chunks, shards and codecs of the converted store.
SAVE_ZARR = (
    ENSURE_STORE
    + STORE_ARRAYS
    + STORE_POINTS
    + """
import showerdata
import zarr
template = zarr.open_group(ensure_store(PARAMS["path"]), mode="r")
layout = {
    name: dict(
        chunks=template[name].chunks,
        shards=template[name].shards,
        compressors=template[name].compressors,
    )
    for name in ARRAYS
}
showers = showerdata.load(PARAMS["path"]).compute()
values = {
    name: getattr(showers, "points" if name == "showers" else name) for name in ARRAYS
}
out = PARAMS["out"] + ".zarr"
t0, c0 = time.perf_counter(), time.process_time()
group = zarr.open_group(out, mode="w", zarr_format=3)
for name, value in values.items():
    array = group.create_array(
        name, shape=value.shape, dtype=value.dtype, fill_value=0, **layout[name]
    )
    array[...] = value
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
emit(seconds=seconds, cpu=cpu, points=store_points(out))
"""
)

# One shower at a time from an opened file (the handle is cached by load):
# the first read, of another shower, opens it and is not counted.
ONE_SHOWER = (
    ENSURE_STORE
    + """
import statistics
import showerdata
path = ensure_store(PARAMS["path"]) if PARAMS["zarr"] else PARAMS["path"]
showerdata.load(path)[PARAMS["first"]].compute()
times, points = [], 0
c0 = time.process_time()
for i in PARAMS["indices"]:
    t0 = time.perf_counter()
    one = showerdata.load(path)[i].compute()
    times.append(time.perf_counter() - t0)
    points += int(one.num_points.sum())
cpu = (time.process_time() - c0) / len(times)
emit(seconds=statistics.median(times), cpu=cpu, slowest=max(times), points=points)
"""
)

# load(store) -> cluster -> save(store), lazy, on a LocalCluster of worker
# processes or on the threaded scheduler. Every process loads the cached
# cluster kernels and collects garbage before the timing (as cluster_threads).
CLUSTER_ZARR = (
    ENSURE_STORE
    + STORE_POINTS
    + """
import gc
import dask
import numpy as np
import showerdata

def warm():
    import gc
    import numpy as np
    import showerdata
    tiny = showerdata.Showers(
        points=np.zeros((2, 4, 5), np.float32),
        energies=np.ones((2, 1), np.float32),
        directions=np.zeros((2, 3), np.float32),
        pdg=np.zeros(2, np.int32),
        shower_ids=np.arange(2, dtype=np.int32),
        num_points=np.zeros(2, np.int32),
    )
    showerdata.cluster(tiny, random_shift=False)
    gc.collect()

store = ensure_store(PARAMS["path"])
out = PARAMS["out"] + ".zarr"

def run():
    t0 = time.perf_counter()
    showers = showerdata.load(store)
    showerdata.cluster(showers, random_shift=False).save(out)
    return time.perf_counter() - t0

if PARAMS["workers"]:
    from distributed import Client, LocalCluster
    with LocalCluster(
        n_workers=PARAMS["workers"],
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
        preload=["showerdata.workers"],
    ) as cluster, Client(cluster) as client:
        client.run(warm)
        gc.collect()
        seconds = run()
else:
    warm()
    with dask.config.set(scheduler="threads", num_workers=1):
        seconds = run()
emit(seconds=seconds, points=store_points(out))
"""
)

# Workers are started before the timing; the toy chunks are generated and
# written by the worker that owns them.
SAVE_TOY_WORKERS = (
    STORE_POINTS
    + """
import showerdata
from distributed import Client, LocalCluster
from showerdata.toy import toy_showers
showers = toy_showers(PARAMS["showers"], seed=1, max_points=PARAMS["max_points"])
with LocalCluster(
    n_workers=PARAMS["workers"],
    threads_per_worker=1,
    processes=True,
    dashboard_address=None,
    host="127.0.0.1",
    # As the CLI's cluster: workers import the library and set numba up while
    # the cluster starts.
    preload=["showerdata.workers"],
) as cluster, Client(cluster) as client:
    t0 = time.perf_counter()
    showerdata.save(showers, PARAMS["out"] + ".zarr")
    seconds = time.perf_counter() - t0
emit(seconds=seconds, points=store_points(PARAMS["out"] + ".zarr"))
"""
)


def zarr_cases(data: DataSet, directory: Path) -> list[Case]:
    """Reading, writing and processing zarr stores, against zarr-python itself."""
    spec = data.main
    shape = f"{spec.num_showers:,} x {spec.max_points} x {spec.num_features}"
    toy = {"showers": spec.num_showers // 2, "max_points": spec.max_points}
    indices = random.Random(20261204).sample(range(spec.num_showers), 21)
    one = {"first": indices[0], "indices": indices[1:]}
    reference = "zarr-python: zarr.open_array(store, path=name)[...] per array"
    return [
        Case(
            name="zarr_load_full",
            summary=(
                f"Read the whole store of the main production ({shape}) into "
                "numpy, against zarr-python reading the same arrays."
            ),
            sides=(
                Side("ours", "ours: load(store).compute()", "ours", LOAD_OURS),
                Side("zarr", reference, "ours", LOAD_ZARR),
            ),
            checks=(Check("vs zarr-python", "ours", "zarr", "time_ratio", 1.1),),
            data=(spec,),
            requires=("convert",),
            notes=(
                "Both sides time opening the store (or arrays) and reading every "
                "data array; zarr-python's side does no checks.",
                "`cpu`: CPU seconds of the process (all threads) in the timed "
                "part, steadier than wall time on a busy machine.",
            ),
        ),
        Case(
            name="zarr_save_memory",
            summary=(
                f"Write in-memory showers ({shape}) to a new store, against "
                "zarr-python writing the same padded arrays with the same chunks, "
                "shards and codecs."
            ),
            sides=(
                Side("ours", "ours: showers.save(out.zarr)", "ours", SAVE_OURS),
                Side(
                    "zarr",
                    "zarr-python: create_array + array[...] = values per array",
                    "ours",
                    SAVE_ZARR,
                ),
            ),
            checks=(Check("vs zarr-python", "ours", "zarr", "time_ratio", 1.1),),
            data=(spec,),
            requires=("convert",),
            notes=(
                "The showers are loaded from the HDF5 file before the timing; the "
                "zarr-python side copies chunks, shards and codecs from the "
                "converted store, untimed. `cpu`: CPU seconds of the process "
                "(all threads) in the timed part.",
            ),
        ),
        Case(
            name="zarr_one_shower",
            summary=(
                f"{len(one['indices'])} single showers at random positions of the "
                "main production, store (or file) already open: zarr vs HDF5."
            ),
            sides=(
                Side(
                    "zarr",
                    "ours: load(store)[i].compute()",
                    "ours",
                    ONE_SHOWER,
                    {**one, "zarr": True},
                ),
                Side(
                    "hdf5",
                    "ours: load(file)[i].compute()",
                    "ours",
                    ONE_SHOWER,
                    {**one, "zarr": False},
                ),
            ),
            checks=(
                Check("median per shower", "zarr", None, "seconds", 0.005),
                Check("zarr / HDF5", "zarr", "hdf5", "time_ratio", 2.0),
            ),
            data=(spec,),
            requires=("convert",),
            notes=(
                "Timed: each read; shown: the median. A read of another shower "
                "opens the store or file first, untimed. `cpu`: mean CPU seconds "
                "per read.",
            ),
        ),
        Case(
            name="zarr_cluster_zarr",
            summary=(
                f"load(store) -> cluster -> save(store) of the main production "
                f"({shape}), lazy: a LocalCluster of 2 worker processes, of 1, "
                "and the threaded scheduler with 1 thread."
            ),
            sides=(
                Side("two", "ours, 2 workers", "ours", CLUSTER_ZARR, {"workers": 2}),
                Side("one", "ours, 1 worker", "ours", CLUSTER_ZARR, {"workers": 1}),
                Side(
                    "threads",
                    "ours, threads, 1 thread",
                    "ours",
                    CLUSTER_ZARR,
                    {"workers": 0},
                ),
            ),
            checks=(
                Check("2 workers / 1", "two", "one", "time_ratio", 1 / 1.6),
                Check("1 worker / 1 thread", "one", "threads", "time_ratio", 1.15),
            ),
            data=(spec,),
            requires=("convert", "cluster"),
            notes=(
                "Cluster start-up is not timed; its workers preload "
                "showerdata.workers (as the CLI's), and every process (each "
                "worker, or the one of the threaded side) loads the cached "
                "cluster kernels and collects garbage before the timing.",
            ),
        ),
        Case(
            name="zarr_save_workers",
            summary=(
                f"Save a lazy toy production ({toy['showers']:,} x "
                f"{spec.max_points} x 5) to zarr: 2 worker processes vs 1."
            ),
            sides=(
                Side(
                    "two",
                    "ours, 2 workers",
                    "ours",
                    SAVE_TOY_WORKERS,
                    {**toy, "workers": 2},
                ),
                Side(
                    "one",
                    "ours, 1 worker",
                    "ours",
                    SAVE_TOY_WORKERS,
                    {**toy, "workers": 1},
                ),
            ),
            checks=(Check("2 workers / 1", "two", "one", "time_ratio", 1 / 1.7),),
            data=(spec,),
            requires=("convert",),
            notes=(
                "LocalCluster start-up is not timed; its workers preload "
                "showerdata.workers, as the CLI's do (the import of showerdata "
                "and numba's one-time setup).",
            ),
        ),
    ]
