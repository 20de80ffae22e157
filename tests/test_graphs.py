"""Graph helpers that hand chunks on without copying them (showerdata.graphs)."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np

from showerdata.graphs import compute_chunks, rows_blockwise


def test_compute_chunks_returns_the_tasks_own_arrays():
    made: dict[int, np.ndarray] = {}

    def make(block: np.ndarray, block_info=None) -> np.ndarray:
        result = block + 1
        made[block_info[0]["chunk-location"][0]] = result
        return result

    values = da.zeros((30, 4), chunks=(10, 4)).map_blocks(make, dtype=float)
    doubled = values * 2  # shares the tasks of ``values``
    with dask.config.set(scheduler="threads"):
        result = compute_chunks([values, doubled], [0, 2])
    assert [len(r) for r in result] == [2, 2]
    assert result[0][0] is made[0] and result[1][0] is made[2]
    assert set(made) == {0, 2}  # chunk 1 was not computed
    np.testing.assert_array_equal(result[1][1], 2.0)


def test_rows_blockwise_passes_blocks_without_concatenating():
    made: list[np.ndarray] = []
    seen: list[bool] = []

    def make(block: np.ndarray) -> np.ndarray:
        made.append(block + 1)
        return made[-1]

    def total(points: np.ndarray) -> np.ndarray:
        seen.append(any(points is m for m in made))
        return points.sum(axis=(1, 2))

    source = np.arange(40 * 6, dtype=np.float32).reshape(40, 2, 3)
    lazy = da.from_array(source, chunks=(10, 2, 3)).map_blocks(make)
    sums = rows_blockwise(total, "i", lazy, "ijk", dtype=np.float32)
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal(sums.compute(), (source + 1).sum(axis=(1, 2)))
    assert len(seen) == 4 and all(seen)
    # Trailing axes in several chunks are joined first, so the result holds.
    split = da.from_array(source, chunks=(10, 1, 2))
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal(
            rows_blockwise(
                np.sum, "i", split, "ijk", dtype=np.float32, axis=(1, 2)
            ).compute(),
            source.sum(axis=(1, 2)),
        )


def test_destination_is_the_rows_of_the_output_while_filling():
    from showerdata.graphs import destination, filling

    out = np.zeros((10, 3))
    assert destination("x", np.arange(2, 5)) is None
    with filling({"x": out}) as taken:
        assert taken == {"x"}
        rows = destination("x", np.arange(2, 5))
        assert rows.shape == (3, 3) and np.shares_memory(rows, out[2:5])
        assert destination("x", np.array([2, 4])) is None  # not consecutive
        assert destination("x", np.arange(0)) is None
        with filling({"x": np.zeros((10, 3)), "y": out}) as inner:
            assert inner == {"y"}  # "x" is being filled by the outer compute
            assert np.shares_memory(destination("x", np.arange(1)), out)
        assert destination("y", np.arange(1)) is None
    assert destination("x", np.arange(2, 5)) is None


def test_a_threaded_compute_of_an_op_writes_into_the_result(make_showers):
    from showerdata.ops.blocks import map_points

    showers = make_showers(60, max_points=30)
    given = []

    def halve(points, shower_index, *, out=None):
        given.append(out)
        result = np.zeros_like(points) if out is None else out
        result[...] = points
        result[:, :, 3] /= 2
        return result

    lazy = map_points(showers.chunk(16), halve)
    with dask.config.set(scheduler="threads"):
        result = lazy.compute()
    # Each of the four tasks got its rows of the result to write into.
    assert len(given) == 4 and all(np.shares_memory(o, result.points) for o in given)
    np.testing.assert_array_equal(result.points, map_points(showers, halve).points)
    given.clear()
    with dask.config.set(scheduler="threads"):
        part = lazy[10:40].compute()  # sliced after the op: blocks are copied
    assert all(o is None for o in given)
    np.testing.assert_array_equal(part.points, result.points[10:40])


def test_computing_does_not_import_distributed_to_look_for_a_client(tmp_path):
    import subprocess
    import sys

    script = f"""
import sys, dask, showerdata
from showerdata.toy import toy_showers
showers = showerdata.filter_showers(toy_showers(40, seed=1, max_points=20), 200.0)
showers = showerdata.cluster(showers.chunk(16), random_shift=False)
showerdata.save(showers, {str(tmp_path / "a.h5")!r})
showerdata.save(showers, {str(tmp_path / "a.zarr")!r})
showerdata.convert({str(tmp_path / "a.h5")!r}, {str(tmp_path / "b.zarr")!r})
assert showers.compute().num_points.sum() > 0
stored = showerdata.load({str(tmp_path / "b.zarr")!r}).persist()
assert stored.compute().points.sum() > 0
with dask.config.set(scheduler="threads", num_workers=2):  # named, as users do
    showers.compute()
    showerdata.load({str(tmp_path / "a.h5")!r}).chunk(8).compute()
assert "distributed" not in sys.modules, "imported distributed"
import threading
from showerdata.ops.blocks import map_points
threads = set()
def record(points, shower_index, *, out=None):
    threads.add(threading.get_ident())
    if out is None:
        return points.copy()
    out[...] = points
    return out
with dask.config.set(scheduler="sync"):  # the user's choice still holds
    map_points(showers, record).compute()
assert threads == {{threading.get_ident()}}, threads
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
