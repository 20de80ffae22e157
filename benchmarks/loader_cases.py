"""The training loader's cases, against what a user would write instead.

The production is the two files of the shuffle case (each half the main file).
The reference of an epoch is a sequential read of the same showers, chunk by
chunk, with ``showers[a:b].compute()``; both sides read every field.
"""

from __future__ import annotations

from pathlib import Path

from cases import Case, Check, Side, two_halves
from workloads import DataSet

BATCH = 256
EPOCHS = 3  # of the rank processes

LOADER_EPOCH = """
import showerdata
t0 = time.perf_counter()
loader = showerdata.Loader(PARAMS["inputs"], PARAMS["batch"],
                           fields=("points", "energies", "num_points"),
                           shuffle=PARAMS["shuffle"], seed=1,
                           window=PARAMS.get("window", 4))
points = batches = 0
for batch in loader:
    points += int(batch["num_points"].sum())
    batches += 1
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=points, batches=batches)
"""

SEQUENTIAL_EPOCH = """
import showerdata
t0 = time.perf_counter()
showers = showerdata.load(PARAMS["inputs"])
points = start = 0
for length in showers.chunks:
    chunk = showers[start : start + length].compute()
    points += int(chunk.num_points.sum())
    start += length
seconds = time.perf_counter() - t0
emit(seconds=seconds, points=points)
"""

FIRST_BATCH = """
import showerdata
t0 = time.perf_counter()
loader = showerdata.Loader(PARAMS["inputs"], PARAMS["batch"], shuffle="blocks", seed=1)
batch = next(iter(loader))
seconds = time.perf_counter() - t0
emit(seconds=seconds)
"""

ONE_CHUNK = """
import showerdata
t0 = time.perf_counter()
showers = showerdata.load(PARAMS["inputs"])
chunk = showers[: showers.chunks[0]].compute()
seconds = time.perf_counter() - t0
emit(seconds=seconds)
"""

# In-memory showers with tiny point clouds: what is left is the loader's own work.
OVERHEAD = """
import showerdata
showers = showerdata.load(PARAMS["path"]).compute()
loader = showerdata.Loader(showers, PARAMS["batch"], shuffle=PARAMS["shuffle"],
                           seed=1, prefetch=0)
next(iter(loader))  # the first window; the rest is per batch
t0 = time.perf_counter()
batches = 1
for batch in loader:
    batches += 1
seconds = (time.perf_counter() - t0) / (batches - 1)
emit(seconds=seconds, batches=batches)
"""

# Rank processes started together, each running a few epochs (a training run
# has many); the time is the wall time from the start to the slowest's end.
RANKS = """
import json, os, subprocess
script = '''
import json, sys, showerdata
rank, ranks = int(sys.argv[2]), int(sys.argv[3])
loader = showerdata.Loader(json.loads(sys.argv[1]), %d, shuffle="blocks", seed=1,
                           rank=rank, world_size=ranks)
points = 0
for epoch in range(%d):
    loader.set_epoch(epoch)
    points += sum(int(b["num_points"].sum()) for b in loader)
print(points)
''' % (PARAMS["batch"], PARAMS["epochs"])
ranks = PARAMS["ranks"]
t0 = time.perf_counter()
children = [
    subprocess.Popen([sys.executable, "-c", script, json.dumps(PARAMS["inputs"]),
                      str(r), str(ranks)], stdout=subprocess.PIPE, text=True)
    for r in range(ranks)
]
points = sum(int(child.communicate()[0]) for child in children)
seconds = time.perf_counter() - t0
assert all(child.returncode == 0 for child in children)
emit(seconds=seconds, points=points)
"""


def loader_cases(data: DataSet, directory: Path) -> list[Case]:
    """One epoch, the first batch, the per-batch overhead, and two ranks."""
    specs = two_halves(data)
    inputs = [str(directory / spec.filename) for spec in specs]
    halves = f"two files of {specs[0].num_showers:,} showers"
    params = {"inputs": inputs, "batch": BATCH}
    ranked = {**params, "epochs": EPOCHS}
    small = {"path": str(directory / data.many_small.filename), "batch": BATCH}
    return [
        Case(
            name="loader_epoch",
            summary=f"One epoch of Loader(batch_size={BATCH}) over {halves}.",
            sides=(
                Side(
                    "seq", "sequential chunked read", "ours", SEQUENTIAL_EPOCH, params
                ),
                Side(
                    "none",
                    'Loader shuffle="none"',
                    "ours",
                    LOADER_EPOCH,
                    {**params, "shuffle": "none"},
                ),
                Side(
                    "blocks",
                    'Loader shuffle="blocks"',
                    "ours",
                    LOADER_EPOCH,
                    {**params, "shuffle": "blocks"},
                ),
                Side(
                    "exact",
                    'Loader shuffle="exact"',
                    "ours",
                    LOADER_EPOCH,
                    {**params, "shuffle": "exact"},
                ),
                Side(
                    "blocks16",
                    'Loader shuffle="blocks", window=16',
                    "ours",
                    LOADER_EPOCH,
                    {**params, "shuffle": "blocks", "window": 16},
                ),
            ),
            checks=(
                Check('"blocks" rate / sequential', "blocks", "seq", "speedup", 0.9),
                Check('"none" rate / sequential', "none", "seq", "speedup", 0.95),
                Check(
                    '"exact" rate / sequential (shown)', "exact", "seq", "speedup", 0
                ),
                Check(
                    '"blocks", window=16 / sequential (shown)',
                    "blocks16",
                    "seq",
                    "speedup",
                    0,
                ),
                Check(
                    "peak RSS over sequential",
                    "blocks",
                    "seq",
                    "rss_margin",
                    2 * 64 * 2**20 + 4 * BATCH * 2000 * 5 * 4,
                ),
            ),
            data=specs,
            notes=(
                "Timed in a fresh process from opening the files to the last batch.",
                "RSS margin: two windows of about one 64 MiB chunk each, plus the "
                "prefetched batches and the one being used.",
            ),
        ),
        Case(
            name="loader_first_batch",
            summary=f'Time to the first batch of "blocks" over {halves}.',
            sides=(
                Side("ours", "Loader(...): first batch", "ours", FIRST_BATCH, params),
                Side("chunk", "load(...)[:chunk].compute()", "ours", ONE_CHUNK, params),
            ),
            checks=(
                Check("first batch - one chunk read", "ours", "chunk", "margin", 0.3),
            ),
            data=specs,
            notes=("Both in a fresh process, from opening the files.",),
        ),
        Case(
            name="loader_overhead",
            summary=(
                f"Loader time per batch of {BATCH} over in-memory showers with "
                f"P = {data.many_small.max_points} (no reads, tiny copies)."
            ),
            sides=(
                Side(
                    "blocks",
                    'shuffle="blocks"',
                    "ours",
                    OVERHEAD,
                    {**small, "shuffle": "blocks"},
                ),
                Side(
                    "exact",
                    'shuffle="exact"',
                    "ours",
                    OVERHEAD,
                    {**small, "shuffle": "exact"},
                ),
            ),
            checks=(
                Check('"blocks" per batch', "blocks", None, "seconds", 0.001),
                Check('"exact" per batch', "exact", None, "seconds", 0.001),
            ),
            data=(data.many_small,),
        ),
        Case(
            name="loader_ranks",
            summary=f'{EPOCHS} "blocks" epochs over {halves}: 2 rank processes vs 1.',
            sides=(
                Side("one", "1 rank", "ours", RANKS, {**ranked, "ranks": 1}),
                Side(
                    "two", "2 ranks, in parallel", "ours", RANKS, {**ranked, "ranks": 2}
                ),
            ),
            checks=(Check("rate of 2 / rate of 1", "two", "one", "speedup", 1.6),),
            data=specs,
            notes=(
                "Wall time from starting the rank processes to the last one's end "
                "(fresh-process costs included).",
                "On a machine shared with other jobs, the second rank competes "
                "for the same cores: the ratio measures the machine as much as "
                "the loader.",
            ),
        ),
    ]
