"""Benchmarks of productions of many files (issue 18), against their targets.

Usage::

    .venv/bin/python benchmarks/productions.py            # 1,000 and 10,000 files
    .venv/bin/python benchmarks/productions.py --quick    # 200 and 1,000 files

Measures, each in a fresh interpreter so imports and caches do not carry over:

- opening N files without an index (target <= 2 ms per file);
- opening 10,000 files with an index (target <= 1 s);
- a full read of a production against the sum of reading its files one by
  one (target >= 0.9x as fast);
- peak RSS of opening and reading 10,000 files against 100 files holding the
  same showers (target <= 1.2x);
- a partitioned HDF5 save (``save(showers, "out/part-{:03d}.h5")``) on a
  ``LocalCluster`` of 2 single-threaded worker processes against a save of
  the same showers to one file, on the default threads and on the same
  cluster (target >= 1.6x as fast). The clusters are started before the
  clock starts, as a user's is; their workers preload ``showerdata.workers``
  as the command line's do. Also with workers that have saved before (warm:
  h5py and the readers imported, the first kernels run).

Files are written once under ``benchmarks/data/productions/`` (copies of one
seeded file, so making 10,000 takes seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "productions"

CHILD = r"""
import json, resource, sys, time, glob
import dask
import showerdata
from showerdata.io.inputs import natural_key
what, source = sys.argv[1], sys.argv[2]
began = time.perf_counter()
if what == "open":
    showers = showerdata.load(source)
elif what == "read":
    showers = showerdata.load(source)
    dask.compute(*showers._fields().values())
elif what == "compute":
    showerdata.load(source).compute()
elif what.startswith("save-"):
    _, target, where = what.split("-")
    cluster = client = None
    if where.endswith("cluster"):
        from distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None, host="127.0.0.1",
                               preload=["showerdata.workers"])
        client = Client(cluster)
    output = sys.argv[3]
    showers = showerdata.load(source, chunks=int(sys.argv[4]))
    if where == "warmcluster":  # workers that have saved before: both ways
        showerdata.save(showers[:64], output + "/warm-{}.h5")
        showerdata.save(showers[:64], output + "/warm.h5")
    began = time.perf_counter()
    if target == "parts":
        showerdata.save(showers, output + "/part-{:03d}.h5",
                        showers_per_file=int(sys.argv[5]))
    else:
        showerdata.save(showers, output + "/all.h5")
    seconds = time.perf_counter() - began
    if client is not None:
        client.close(); cluster.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "rss": rss}))
    sys.exit(0)
elif what == "read-singles":
    for path in sorted(glob.glob(source), key=natural_key):
        part = showerdata.load(path)
        dask.compute(*part._fields().values())
seconds = time.perf_counter() - began
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "rss": rss}))
"""


def production(files: int, showers: int, max_points: int) -> Path:
    """A directory of ``files`` copies of one file of ``showers`` showers, indexed."""
    directory = DATA / f"{files}x{showers}x{max_points}"
    index = directory / "prod.index.json"
    if index.exists():
        return directory
    import showerdata
    from showerdata.toy import toy_arrays

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    first = directory / "part-0.h5"
    arrays = toy_arrays(0, showers, seed=1, max_points=max_points, num_features=4)
    showerdata.Showers(**arrays).save(first)
    for number in range(1, files):
        shutil.copyfile(first, directory / f"part-{number}.h5")
    showerdata.write_index(str(directory / "part-*.h5"), index)
    return directory


def child(what: str, source: str, *extra: str) -> dict[str, float]:
    """Run one measurement in a fresh interpreter."""
    output = subprocess.run(
        [sys.executable, "-c", CHILD, what, source, *extra],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def best(what: str, source: str, repeat: int, *extra: str) -> dict[str, float]:
    runs = [child(what, source, *extra) for _ in range(repeat)]
    return min(runs, key=lambda run: run["seconds"])


def partitioned_save(quick: bool, repeat: int) -> list[tuple[str, str, str]]:
    """Rows of the partitioned HDF5 save against single-file saves."""
    showers = 4_000 if quick else 32_000
    source = production(1, showers, 500) / "part-0.h5"
    output = DATA / "saved"
    chunk, per_file = str(showers // 32), str(showers // 8)
    times = {}
    for what in (
        "save-single-threads",
        "save-parts-threads",
        "save-single-cluster",
        "save-parts-cluster",
        "save-single-warmcluster",
        "save-parts-warmcluster",
    ):
        runs = []
        for _ in range(repeat):
            shutil.rmtree(output, ignore_errors=True)
            output.mkdir(parents=True)
            runs.append(
                child(what, str(source), str(output), chunk, per_file)["seconds"]
            )
        times[what] = min(runs)
    shutil.rmtree(output, ignore_errors=True)
    parts = times["save-parts-cluster"]
    warm = times["save-parts-warmcluster"]
    text = f"{showers:,} showers, P=500, 8 files of 4 chunks"
    return [
        (
            f"partitioned HDF5 save, 2 workers, vs one file on threads ({text})",
            f"{times['save-single-threads'] / parts:.2f}x as fast "
            f"({parts:.2f} s vs {times['save-single-threads']:.2f} s)",
            ">= 1.6x",
        ),
        (
            "partitioned HDF5 save, 2 threads, vs one file on threads",
            f"{times['save-single-threads'] / times['save-parts-threads']:.2f}x as "
            f"fast ({times['save-parts-threads']:.2f} s)",
            "(for information)",
        ),
        (
            "partitioned HDF5 save, 2 workers, vs one file on the same cluster",
            f"{times['save-single-cluster'] / parts:.2f}x as fast "
            f"({parts:.2f} s vs {times['save-single-cluster']:.2f} s)",
            ">= 1.6x",
        ),
        (
            "the same, 2 warm workers (saved before), vs one file on threads",
            f"{times['save-single-threads'] / warm:.2f}x as fast ({warm:.2f} s)",
            ">= 1.6x",
        ),
        (
            "the same, 2 warm workers, vs one file on the same warm cluster",
            f"{times['save-single-warmcluster'] / warm:.2f}x as fast "
            f"({times['save-single-warmcluster']:.2f} s)",
            ">= 1.6x",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, smaller files")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--only-save", action="store_true", help="only the partitioned save"
    )
    args = parser.parse_args()
    few, many = (200, 1_000) if args.quick else (1_000, 10_000)
    rows = partitioned_save(args.quick, args.repeat)
    if args.only_save:
        few = 0

    for row in [] if few else rows:
        print("| " + " | ".join(row) + " |")
    if not few:
        return
    opened = production(few, 20, 30)
    run = best("open", str(opened / "part-*.h5"), args.repeat)
    per_file = run["seconds"] / few * 1e3
    rows.append((f"open {few:,} files, no index", f"{per_file:.2f} ms/file", "<= 2"))

    indexed = production(many, 100_000 // many, 30)
    run = best("open", str(indexed / "prod.index.json"), args.repeat)
    rows.append((f"open {many:,} files, index", f"{run['seconds']:.3f} s", "<= 1 s"))

    reads = production(20, 2_000, 300)
    whole = best("read", str(reads / "part-*.h5"), args.repeat)
    singles = best("read-singles", str(reads / "part-*.h5"), args.repeat)
    ratio = singles["seconds"] / whole["seconds"]
    rows.append(("full read vs single files", f"{ratio:.2f}x as fast", ">= 0.9x"))

    hundred = production(100, 100_000 // 100, 30)
    for what, how in (("compute", "compute()"), ("read", "dask.compute(fields)")):
        small = best(what, str(hundred / "prod.index.json"), 1)
        large = best(what, str(indexed / "prod.index.json"), 1)
        ratio = large["rss"] / small["rss"]
        rows.append(
            (
                f"peak RSS {many:,} vs 100 files, {how}",
                f"{ratio:.2f}x ({large['rss'] / 2**20:.0f} / "
                f"{small['rss'] / 2**20:.0f} MiB)",
                "<= 1.2x",
            )
        )
    print("| measurement | result | target |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
