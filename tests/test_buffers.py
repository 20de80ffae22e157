"""Zero blocks that reuse the memory of dropped ones (showerdata.buffers)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from showerdata import buffers

BIG = (256, 2000, 5)  # 10 MiB of float32: pooled


def address(array: np.ndarray) -> int:
    return int(array.__array_interface__["data"][0])


@pytest.fixture(autouse=True)
def empty_pool(request):
    """An empty pool; blocks kept for reuse as inside a computation, unless idle."""
    buffers.release_free()
    if request.node.name.startswith("test_idle_"):
        yield
    else:
        with buffers.reusing():
            yield
    buffers.release_free()


def test_zeros_are_zero_writable_and_contiguous():
    for shape, dtype in [(BIG, np.float32), ((3, 4), np.int64), (BIG, np.int32)]:
        block = buffers.zeros(shape, dtype)
        assert block.shape == shape and block.dtype == dtype
        assert block.flags.c_contiguous and block.flags.writeable
        assert not block.any()


def test_a_dropped_block_is_reused_and_cleared():
    first = buffers.zeros(BIG)
    first[:, :7] = 3.5  # a few rows written, the rest only read below
    assert first[-1, -1].sum() == 0
    where = address(first)
    del first
    assert buffers.free_bytes() == np.prod(BIG) * 4
    second = buffers.zeros(BIG)
    assert address(second) == where
    assert not second.any()
    assert buffers.free_bytes() == 0


def test_a_live_view_keeps_its_memory():
    first = buffers.zeros(BIG)
    first[5, 3] = 1.0
    view = first[5].T[::2]
    where = address(first)
    del first
    assert buffers.free_bytes() == 0
    second = buffers.zeros(BIG)
    assert address(second) != where
    second[...] = 7.0
    assert view[1, 3] == 1.0 and view.sum() == 3.0  # point 3, features 0, 2, 4
    del view
    assert buffers.free_bytes() == np.prod(BIG) * 4


def test_small_blocks_are_not_pooled():
    small = buffers.zeros((10, 10))
    del small
    assert buffers.free_bytes() == 0


def test_the_free_list_is_bounded():
    size = buffers.MAX_POPULATED_BYTES // 4
    blocks = [buffers.zeros((size,), np.uint8) for _ in range(24)]
    del blocks
    assert 0 < buffers.free_bytes() <= buffers.MAX_FREE_BYTES


def test_blocks_from_many_threads_never_share_memory():
    live: list[np.ndarray] = []
    lock = threading.Lock()

    def work(value: float) -> None:
        for _ in range(20):
            block = buffers.zeros(BIG)
            assert not block.any()
            block[...] = value
            with lock:
                live.append(block)
                if len(live) > 3:
                    live.pop(0)
            assert (block == value).all()

    threads = [threading.Thread(target=work, args=(v,)) for v in (1.0, 2.0, 3.0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    addresses = [address(b) for b in live]
    assert len(set(addresses)) == len(addresses)


def test_a_pipeline_over_reused_blocks_equals_one_without(tmp_path, monkeypatch):
    """Blocks big enough to be pooled: a block reused while still held would
    corrupt the result, whatever the scheduler's order of tasks."""
    import dask

    import showerdata
    from showerdata.toy import toy_showers

    source = tmp_path / "source.h5"
    showerdata.save(toy_showers(900, seed=5, max_points=2000, chunks=150), source)
    assert 150 * 2000 * 5 * 4 > buffers.MIN_POOLED_BYTES

    def pipeline(showers):
        filtered = showerdata.filter_showers(showers, 150.0, 1e-4, 2e-4)
        return showerdata.cluster(filtered, seed=11)

    reused = []
    take = buffers._take

    def counting_take(nbytes):
        memory = take(nbytes)
        reused.append(memory is not None)
        return memory

    monkeypatch.setattr(buffers, "_take", counting_take)
    with dask.config.set(scheduler="threads", num_workers=2):
        pipeline(showerdata.load(source, chunks=150)).save(tmp_path / "out.h5")
        pipeline(showerdata.load(source, chunks=150)).save(tmp_path / "out.zarr")
    assert sum(reused) >= 10

    monkeypatch.setattr(buffers, "MIN_POOLED_BYTES", 2**62)  # numpy only
    expected = pipeline(showerdata.load(source).compute())
    for name in ("out.h5", "out.zarr"):
        result = showerdata.load(tmp_path / name).compute()
        np.testing.assert_array_equal(result.points, expected.points)
        np.testing.assert_array_equal(result.num_points, expected.num_points)


def test_idle_blocks_are_given_back_once_no_computation_runs():
    # Outside any computation a dropped block is unmapped, not kept.
    with buffers.reusing():
        block = buffers.zeros(BIG)
        del block
        assert buffers.free_bytes() == np.prod(BIG) * 4
    assert buffers.free_bytes() == 0  # the list went back when the block ended


def test_idle_a_computed_result_dropped_later_is_not_kept():
    import dask.array as da

    lazy = da.ones((4, *BIG[1:]), chunks=(1, *BIG[1:]), dtype=np.float32)
    computed = lazy.map_blocks(lambda b: buffers.zeros(b.shape) + b).compute()
    assert buffers.free_bytes() == 0  # the computation ended: nothing held
    del computed
    assert buffers.free_bytes() == 0


def test_idle_a_block_dropped_outside_any_computation_is_unmapped():
    block = buffers.zeros(BIG)  # e.g. part of a result the user holds
    del block
    assert buffers.free_bytes() == 0
