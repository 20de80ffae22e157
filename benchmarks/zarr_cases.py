"""Benchmark cases of the zarr mirror (see ``cases.py`` for the conventions).

Every zarr side reads or writes a store made from the main HDF5 file; the
store is converted once, untimed, by the first side that needs it.
"""

from __future__ import annotations

from pathlib import Path

from cases import WRITTEN_POINTS, Case, Check, Side
from workloads import DataSet

# Converts the main file to a zarr store beside it, once, outside any timing.
ENSURE_STORE = """
import os
import showerdata

def ensure_store(path):
    store = path[: -len(".h5")] + ".zarr"
    if not os.path.exists(store):
        showerdata.convert(path, store)
    return store
"""

STORE_POINTS = """
def store_points(path):
    import zarr
    return int(zarr.open_group(path, mode="r")["num_points"][...].sum())
"""

READ_STORE = (
    ENSURE_STORE
    + """
store = ensure_store(PARAMS["path"])
t0 = time.perf_counter()
showers = showerdata.load(store).compute()
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=int(showers.num_points.sum()))
"""
)

READ_HDF5 = """
import showerdata
t0 = time.perf_counter()
showers = showerdata.load(PARAMS["path"]).compute()
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=int(showers.num_points.sum()))
"""

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

CONVERT_TO_STORE = (
    STORE_POINTS
    + """
import showerdata
t0 = time.perf_counter()
showerdata.convert(PARAMS["path"], PARAMS["out"] + ".zarr")
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=store_points(PARAMS["out"] + ".zarr"))
"""
)

SAVE_HDF5 = (
    WRITTEN_POINTS
    + """
import showerdata
t0 = time.perf_counter()
showerdata.save(showerdata.load(PARAMS["path"]), PARAMS["out"])
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=written_points(PARAMS["out"]))
"""
)


def zarr_cases(data: DataSet, directory: Path) -> list[Case]:
    """Reading, parallel writing and converting the zarr mirror."""
    spec = data.main
    shape = f"{spec.num_showers:,} x {spec.max_points} x {spec.num_features}"
    toy = {"showers": spec.num_showers // 2, "max_points": spec.max_points}
    return [
        Case(
            name="zarr_read",
            summary=f"Read the main production ({shape}) from zarr vs from HDF5.",
            sides=(
                Side("zarr", "ours: load(store).compute()", "ours", READ_STORE),
                Side("hdf5", "ours: load(file).compute()", "ours", READ_HDF5),
            ),
            checks=(Check("zarr / HDF5", "zarr", "hdf5", "time_ratio", 1.0),),
            data=(spec,),
            requires=("convert",),
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
        Case(
            name="convert",
            summary=(
                f"Convert the main file ({shape}) HDF5 -> zarr vs our streamed "
                "HDF5 -> HDF5 save of the same showers."
            ),
            sides=(
                Side("convert", "ours: convert(h5, zarr)", "ours", CONVERT_TO_STORE),
                Side("save", "ours: save(load(h5), h5)", "ours", SAVE_HDF5),
            ),
            checks=(
                Check("convert / HDF5 save", "convert", "save", "time_ratio", 1.0),
            ),
            data=(spec,),
            requires=("convert",),
        ),
    ]
