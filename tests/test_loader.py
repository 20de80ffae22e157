"""showerdata.Loader: the plan (exhaustively, no I/O) and the batches it reads.

Expected values come from reading the files with h5py directly, and from
hand-worked splits of rows over ranks.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import dask
import h5py
import numpy as np
import pytest

import showerdata
from showerdata.io import hdf5 as hdf5_backend
from showerdata.loader.plan import batch_sizes, blocks_of, plan_rank

ROOT = Path(__file__).resolve().parents[1]
#: Uneven files, an empty one and a one-shower one: 101 showers (a prime).
FILE_SIZES = (1, 0, 37, 23, 40)  # as the loader_production fixture writes
SHUFFLES = ("none", "blocks", "exact")


# -- the plan, without I/O ---------------------------------------------------------


def test_batch_sizes_of_hand_worked_splits():
    # 17 rows over 3 ranks: shares 5, 6, 6; two batches of at most 3 each.
    sizes, dropped = batch_sizes(17, 3, 3, drop_last=False)
    assert [s.tolist() for s in sizes] == [[3, 2], [3, 3], [3, 3]]
    assert dropped == 0
    # 5 rows over 2 ranks in batches of 2: shares 2 and 3, two batches each.
    sizes, _ = batch_sizes(5, 2, 2, drop_last=False)
    assert [s.tolist() for s in sizes] == [[1, 1], [2, 1]]
    sizes, dropped = batch_sizes(5, 2, 2, drop_last=True)
    assert [s.tolist() for s in sizes] == [[2], [2]]
    assert dropped == 1


@pytest.mark.parametrize(
    ("rows", "ranks", "batch"), [(3, 4, 8), (5, 2, 1), (2, 3, 4)], ids=str
)
def test_impossible_equal_batch_counts_are_refused(rows, ranks, batch):
    with pytest.raises(showerdata.ShowerDataError, match="same number of batches"):
        batch_sizes(rows, ranks, batch, drop_last=False)


def test_blocks_follow_the_chunks():
    assert blocks_of([5, 0, 7, 1], 3).tolist() == [0, 3, 5, 8, 11, 12, 13]
    assert blocks_of([5, 0, 7, 1]).tolist() == [0, 5, 12, 13]


def _rows_of(plans):
    return [[b.tolist() for b in plan.batches()] for plan in plans]


@pytest.mark.parametrize("shuffle", SHUFFLES)
def test_every_row_once_and_equal_batch_counts_for_many_settings(shuffle):
    for chunks, ranks, batch, drop_last in itertools.product(
        [(1, 0, 37, 23, 40), (5,), (8, 8, 1), (2, 3, 5, 7, 11, 13)],
        [1, 2, 3, 4],
        [1, 2, 3, 7, 64],
        [False, True],
    ):
        total = sum(chunks)
        settings = dict(batch_size=batch, shuffle=shuffle, seed=5, epoch=1)
        settings.update(world_size=ranks, drop_last=drop_last, block_size=4)
        try:
            plans = [plan_rank(chunks, rank=r, **settings) for r in range(ranks)]
        except showerdata.ShowerDataError:
            shares = [
                total * (r + 1) // ranks - total * r // ranks for r in range(ranks)
            ]
            assert not drop_last
            assert min(shares) < -(-max(shares) // batch)
            continue
        rows = _rows_of(plans)
        assert len({len(r) for r in rows}) == 1, (chunks, ranks, batch)
        seen = sorted(x for r in rows for b in r for x in b)
        sizes = [len(b) for r in rows for b in r]
        assert all(1 <= s <= batch for s in sizes)
        if drop_last:
            assert len(set(seen)) == len(seen)
            assert all(s == batch for s in sizes)
            assert plans[0].dropped == total - len(seen)
        else:
            assert seen == list(range(total)), (chunks, ranks, batch)
        bounds = np.cumsum((0, *chunks))
        for plan in plans:
            for window in plan.windows:
                for piece in window.pieces:
                    if isinstance(piece, slice):  # one read within one chunk
                        chunk = np.searchsorted(bounds, piece.start, side="right")
                        assert piece.stop <= bounds[chunk]


def test_none_keeps_the_source_order():
    plans = [plan_rank([4, 6], batch_size=3, rank=r, world_size=2) for r in range(2)]
    assert _rows_of(plans) == [[[0, 1, 2], [3, 4]], [[5, 6, 7], [8, 9]]]


def test_each_epoch_and_seed_has_its_own_order():
    def order(shuffle, seed, epoch):
        plan = plan_rank([50, 50], batch_size=10, shuffle=shuffle, seed=seed,
                         epoch=epoch, block_size=10, window=2)  # fmt: skip
        return np.concatenate(plan.batches()).tolist()

    for shuffle in ("blocks", "exact"):
        assert order(shuffle, 0, 0) == order(shuffle, 0, 0)
        assert order(shuffle, 0, 0) != order(shuffle, 0, 1)
        assert order(shuffle, 0, 0) != order(shuffle, 1, 0)
        assert sorted(order(shuffle, 3, 2)) == list(range(100))


def test_blocks_mix_rows_of_several_blocks_within_a_window():
    plan = plan_rank([100], batch_size=20, shuffle="blocks", block_size=10, window=4)
    for batch in plan.batches():
        assert len(set((batch // 10).tolist())) > 1
        # all rows of a batch come from the blocks of at most two windows
        assert len(set((batch // 10).tolist())) <= 8


# -- batches read from files --------------------------------------------------------


def reference(paths: list[str]) -> list[tuple[np.ndarray, int, float]]:
    """(real points, num_points, energy) of every shower, read with h5py."""
    rows = []
    for path in paths:
        with h5py.File(path, "r") as file:
            features = int(file["shape"][2])
            counts = file["num_points"][:]
            energies = file["energies"][:, 0]
            for number, row in enumerate(file["showers"][:]):
                points = np.asarray(row).reshape(-1, features)
                rows.append((points, int(counts[number]), float(energies[number])))
    return rows


def check_batch(batch: dict, expected: list) -> None:
    for i, index in enumerate(batch["index"].tolist()):
        points, count, energy = expected[index]
        assert batch["num_points"][i] == count
        assert batch["energies"][i, 0] == energy
        assert np.array_equal(batch["points"][i, :count], points[:count])
        assert not batch["points"][i, count:].any()


def digest(batches) -> list[str]:
    return [
        hashlib.sha256(
            b"".join(np.ascontiguousarray(b[k]).tobytes() for k in sorted(b))
        ).hexdigest()
        for b in batches
    ]


@pytest.mark.parametrize("shuffle", SHUFFLES)
def test_batches_hold_the_files_values(loader_production, shuffle):
    expected = reference(loader_production)
    loader = showerdata.Loader(
        loader_production,
        batch_size=16,
        shuffle=shuffle,
        seed=2,
        block_size=9,
        window=3,
    )
    batches = list(loader)
    assert len(batches) == len(loader) == 7
    seen = np.concatenate([b["index"] for b in batches])
    assert sorted(seen.tolist()) == list(range(101))
    for batch in batches:
        check_batch(batch, expected)
        assert batch["points"].shape[1:] == (58, 5)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_an_epoch_opens_each_file_once_and_leaves_none_open(
    loader_production, prefetch, monkeypatch
):
    """Windows of one file share its handle; the epoch's end closes the files."""
    opens = []
    original = hdf5_backend.open_hdf5

    def counting_open(path, mode="r"):
        opens.append(str(path))
        return original(path, mode)

    monkeypatch.setattr(hdf5_backend, "open_hdf5", counting_open)
    loader = showerdata.Loader(
        loader_production, 8, shuffle="blocks", block_size=5, window=2,
        prefetch=prefetch,
    )  # fmt: skip
    with_showers = [p for p in loader_production if showerdata.get_file_length(p)]
    opens.clear()  # opening the files read their headers
    batches = list(loader)
    assert len(batches) > 10  # many windows per file
    assert sorted(opens) == sorted(with_showers)
    for path in loader_production:
        with h5py.File(path, "a") as file:  # refused while we hold it open
            file.attrs["after the epoch"] = 1


@pytest.mark.parametrize("prefetch", [0, 3])
def test_batches_larger_than_windows(loader_production, prefetch):
    expected = reference(loader_production)
    loader = showerdata.Loader(
        loader_production, 40, shuffle="blocks", block_size=5, window=2,
        prefetch=prefetch,
    )  # fmt: skip
    batches = list(loader)
    assert [len(b["index"]) for b in batches] == [40, 40, 21]
    for batch in batches:
        check_batch(batch, expected)
    seen = np.concatenate([b["index"] for b in batches])
    assert sorted(seen.tolist()) == list(range(101))


def test_in_memory_source_and_other_fields(loader_production):
    expected = reference(loader_production)
    memory = showerdata.load(loader_production).compute()
    loader = showerdata.Loader(
        memory, 10, fields=("energies", "pdg", "index"), shuffle="exact", seed=4
    )
    seen = []
    for batch in loader:
        assert set(batch) == {"energies", "pdg", "index"}
        for i, index in enumerate(batch["index"].tolist()):
            assert batch["energies"][i, 0] == expected[index][2]
        seen.extend(batch["index"].tolist())
    assert sorted(seen) == list(range(101))


def test_trim_points_crops_to_the_largest_shower_of_the_batch(loader_production):
    expected = reference(loader_production)
    loader = showerdata.Loader(
        loader_production,
        8,
        fields=("points", "index"),
        shuffle="none",  # batches within one file: files differ in P
        trim_points=True,
    )
    widths = set()
    for batch in loader:
        largest = max(expected[i][1] for i in batch["index"].tolist())
        assert batch["points"].shape[1] == largest
        widths.add(largest)
        for i, index in enumerate(batch["index"].tolist()):
            points, count, _ = expected[index]
            assert np.array_equal(batch["points"][i, :count], points[:count])
    assert len(widths) > 1


def test_same_batches_whatever_the_threads_and_prefetch(loader_production):
    def run(prefetch, scheduler):
        loader = showerdata.Loader(
            loader_production,
            12,
            shuffle="blocks",
            seed=7,
            block_size=5,
            prefetch=prefetch,
        )
        loader.set_epoch(3)
        with dask.config.set(scheduler=scheduler):
            return digest(loader)

    first = run(0, "synchronous")
    assert len(first) == 9
    assert run(1, "threads") == first
    assert run(5, "threads") == first
    with dask.config.set(num_workers=1):
        assert run(2, "threads") == first


def test_a_new_epoch_gives_a_new_order(loader_production):
    loader = showerdata.Loader(loader_production, 12, shuffle="blocks", block_size=5)
    first, second = digest(loader), digest(loader)  # iterating moves to epoch 1
    assert loader.epoch == 2
    assert first != second
    loader.set_epoch(0)
    assert digest(loader) == first


@pytest.mark.parametrize("shuffle", SHUFFLES)
def test_resume_mid_epoch_continues_identically(loader_production, shuffle):
    settings = dict(batch_size=10, shuffle=shuffle, seed=1, block_size=6)
    whole = showerdata.Loader(loader_production, **settings)
    whole.set_epoch(2)
    expected = digest(whole)

    loader = showerdata.Loader(loader_production, **settings)
    loader.set_epoch(2)
    head = digest(itertools.islice(iter(loader), 4))
    state = json.loads(json.dumps(loader.state_dict()))  # as a checkpoint keeps it
    assert state["position"] == 4

    resumed = showerdata.Loader(loader_production, **settings)
    resumed.load_state_dict(state)
    assert head + digest(resumed) == expected
    assert resumed.epoch == 3 and resumed.position == 0


def test_a_state_of_other_settings_is_refused(loader_production):
    state = showerdata.Loader(loader_production, 10, seed=1).state_dict()
    with pytest.raises(ValueError, match="seed: saved 1, now 2"):
        showerdata.Loader(loader_production, 10, seed=2).load_state_dict(state)


def _epoch_digest(loader, connection) -> None:
    connection.send(digest(loader))
    connection.close()


def test_fork_after_open_gives_the_same_data(loader_production):
    loader = showerdata.Loader(loader_production, 16, shuffle="exact", seed=3)
    loader.set_epoch(1)
    expected = digest(loader)
    loader.set_epoch(1)
    next(iter(loader))  # files are open in this process now
    loader.set_epoch(1)
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_epoch_digest, args=(loader, sending))
    child.start()
    received = receiving.recv()
    child.join()
    assert child.exitcode == 0
    assert received == expected


def test_drop_last_reports_what_it_leaves_out(loader_production):
    loader = showerdata.Loader(loader_production, 16, shuffle="blocks", drop_last=True)
    batches = list(loader)
    assert [len(b["index"]) for b in batches] == [16] * 6
    assert loader.dropped == 101 - 96
    assert len(set(np.concatenate([b["index"] for b in batches]).tolist())) == 96


def test_bad_settings_are_refused(loader_production):
    with pytest.raises(ValueError, match="unknown fields"):
        showerdata.Loader(loader_production, 4, fields=("points", "energy"))
    with pytest.raises(ValueError, match="fields must name at least one"):
        showerdata.Loader(loader_production, 4, fields=())
    with pytest.raises(ValueError, match="shuffle must be one of"):
        showerdata.Loader(loader_production, 4, shuffle="random")
    with pytest.raises(ValueError, match="rank 4 is not in 0..3"):
        showerdata.Loader(loader_production, 4, rank=4, world_size=4)
    with pytest.raises(TypeError, match="Loader source must be"):
        showerdata.Loader(42, 4)
    with pytest.raises(showerdata.ShowerDataError, match="same number of batches"):
        showerdata.Loader(loader_production, 200, world_size=102, rank=0)


# -- ranks as separate processes ----------------------------------------------------

RANK_SCRIPT = """
import json, sys
import showerdata
paths, rank, ranks = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out = {}
for shuffle in ("none", "blocks", "exact"):
    for drop_last in (False, True):
        loader = showerdata.Loader(paths, 8, fields=("index",), shuffle=shuffle,
                                   seed=9, rank=rank, world_size=ranks,
                                   drop_last=drop_last, block_size=6)
        for epoch in (0, 1):
            loader.set_epoch(epoch)
            out[f"{shuffle} {drop_last} {epoch}"] = [
                b["index"].tolist() for b in loader
            ] + [loader.dropped]
print(json.dumps(out))
"""


@pytest.mark.parametrize("ranks", [1, 2, 3, 4])
def test_ranks_in_processes_see_every_shower_once(loader_production, ranks):
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                RANK_SCRIPT,
                json.dumps(loader_production),
                str(r),
                str(ranks),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for r in range(ranks)
    ]
    results = [json.loads(child.communicate()[0]) for child in children]
    assert all(child.returncode == 0 for child in children)
    for key in results[0]:
        per_rank = [result[key][:-1] for result in results]
        dropped = {result[key][-1] for result in results}
        counts = {len(batches) for batches in per_rank}
        assert len(counts) == 1, (key, counts)
        seen = [i for batches in per_rank for batch in batches for i in batch]
        assert all(batch for batches in per_rank for batch in batches)
        if key.split()[1] == "False":
            assert sorted(seen) == list(range(101)), key
            assert dropped == {0}
        else:
            assert len(set(seen)) == len(seen) == 101 - dropped.pop(), key
    orders = {k: v for k, v in results[0].items() if k.startswith("blocks False")}
    assert orders["blocks False 0"] != orders["blocks False 1"]


def test_numpy_batches_import_no_torch(loader_production):
    code = (
        "import json, sys, showerdata\n"
        "loader = showerdata.Loader(json.loads(sys.argv[1]), 16, shuffle='blocks')\n"
        "assert sum(len(b['index']) for b in loader) == 101\n"
        "print('torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(loader_production)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
