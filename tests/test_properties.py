"""Properties: any valid Showers round-trips bit for bit, and lazy slicing commutes.

"Valid" is what ``validation.check_points`` accepts: F = 4 or 5; the first
``num_points`` points of a shower are finite with e > 0 (subnormal to the
largest float32); everything after is padding (zeros). Coordinates go to the
extremes of float32 (and -0.0); z is either a layer index as the toy writes it
or any finite float; incident fields take any finite value or any int32.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from conftest import assert_showers_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import showerdata
from showerdata import ShowerDataFile, Showers

pytestmark = pytest.mark.timeout(120)

#: Formats that must round-trip, bit for bit.
SUFFIXES = [".h5", ".zarr"]

BOUNDED = settings(
    max_examples=50,
    deadline=None,
    database=None,  # no .hypothesis directory in the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FLOAT32 = np.float32
FINITE = st.floats(width=32, allow_nan=False, allow_infinity=False)
SMALLEST_SUBNORMAL = float(np.nextafter(FLOAT32(0), FLOAT32(1)))
POSITIVE = st.floats(
    min_value=SMALLEST_SUBNORMAL, max_value=float(np.finfo(FLOAT32).max), width=32
)
EXTREMES = st.sampled_from(
    [
        0.0,
        -0.0,
        SMALLEST_SUBNORMAL,
        -SMALLEST_SUBNORMAL,
        float(np.finfo(FLOAT32).tiny),
        float(np.finfo(FLOAT32).max),
        float(np.finfo(FLOAT32).min),
    ]
)
COORDINATE = st.one_of(FINITE, EXTREMES)
LAYER = st.one_of(st.integers(0, 77).map(float), COORDINATE)
ENERGY = st.one_of(
    POSITIVE, st.sampled_from([SMALLEST_SUBNORMAL, float(np.finfo(FLOAT32).max)])
)
INT32 = st.integers(np.iinfo(np.int32).min, np.iinfo(np.int32).max)


@st.composite
def valid_showers(draw, max_showers: int = 9, max_points: int = 6) -> Showers:
    """In-memory Showers that pass every check of the library."""
    n = draw(st.integers(0, max_showers))
    p = draw(st.integers(0, max_points))
    f = draw(st.sampled_from([4, 5]))
    num_points = draw(arrays(np.int32, n, elements=st.integers(0, p)))
    columns = [
        draw(arrays(FLOAT32, (n, p), elements=COORDINATE)),  # x
        draw(arrays(FLOAT32, (n, p), elements=COORDINATE)),  # y
        draw(arrays(FLOAT32, (n, p), elements=LAYER)),  # z
        draw(arrays(FLOAT32, (n, p), elements=ENERGY)),  # e
        draw(arrays(FLOAT32, (n, p), elements=COORDINATE)),  # t
    ][:f]
    real = np.arange(p) < num_points[:, None]
    points = np.where(real[..., None], np.stack(columns, axis=-1), FLOAT32(0))
    return Showers(
        points.astype(FLOAT32),
        draw(arrays(FLOAT32, (n, 1), elements=FINITE)),
        draw(arrays(np.int32, n, elements=INT32)),
        directions=draw(arrays(FLOAT32, (n, 3), elements=COORDINATE)),
        shower_ids=draw(arrays(np.int32, n, elements=INT32)),
        num_points=num_points,
    )


@contextmanager
def scratch(suffix: str) -> Iterator[str]:
    """A fresh path per example (hypothesis reruns the test body many times)."""
    with tempfile.TemporaryDirectory() as directory:
        yield os.path.join(directory, f"showers{suffix}")


@pytest.mark.parametrize("suffix", SUFFIXES)
@BOUNDED
@given(showers=valid_showers())
def test_in_memory_round_trip_is_bit_exact(suffix, showers):
    with scratch(suffix) as path:
        showerdata.save(showers, path)
        assert showerdata.get_file_shape(path) == showers.points.shape
        assert_showers_equal(showerdata.load(path).compute(), showers)
        with ShowerDataFile(path) as file:
            assert_showers_equal(file[:], showers)


@pytest.mark.parametrize("suffix", SUFFIXES)
@BOUNDED
@given(showers=valid_showers(), chunk=st.integers(1, 4), reread=st.integers(1, 4))
def test_lazy_round_trip_is_bit_exact(suffix, showers, chunk, reread):
    with scratch(suffix) as path:
        showerdata.save(showers.chunk(chunk), path)
        lazy = showerdata.load(path, chunks=reread)
        assert lazy.is_lazy
        copy = path.replace(suffix, f"-copy{suffix}")
        showerdata.save(lazy, copy)  # lazy file to file, chunk by chunk
        assert_showers_equal(showerdata.load(copy, chunks=chunk).compute(), showers)


@pytest.mark.parametrize("suffix", SUFFIXES)
@BOUNDED
@given(showers=valid_showers(), data=st.data())
def test_save_batch_into_an_empty_file_is_bit_exact(suffix, showers, data):
    n = len(showers)
    cut = data.draw(st.integers(0, n), label="cut")
    chunk = data.draw(st.integers(1, 4), label="chunk")
    with scratch(suffix) as path:
        showerdata.create_empty_file(path, showers.points.shape)
        # The later rows first, lazily; the first rows in memory.
        showerdata.save_batch(showers[cut:].chunk(chunk), path, cut)
        showerdata.save_batch(showers[:cut], path, 0)
        assert_showers_equal(showerdata.load(path).compute(), showers)


# -- lazy slicing commutes with computing ----------------------------------------------


def indices(n: int) -> st.SearchStrategy:
    """Every kind of shower index valid for ``n`` showers."""
    bound = st.one_of(st.none(), st.integers(-n - 3, n + 3))
    step = st.one_of(st.none(), st.integers(-4, 4).filter(bool))
    kinds = [
        st.builds(slice, bound, bound, step),
        st.lists(st.integers(-n, n - 1) if n else st.nothing(), max_size=2 * n).map(
            lambda positions: np.array(positions, dtype=np.int64)
        ),
        arrays(bool, n),
        st.just(Ellipsis),
    ]
    if n:
        kinds.append(st.integers(-n, n - 1))
    return st.one_of(kinds)


def numpy_index(index):
    """The numpy index of the same showers (an int keeps the shower axis)."""
    return [index] if isinstance(index, int) else index


@pytest.mark.parametrize("suffix", SUFFIXES)
@BOUNDED
@given(showers=valid_showers(max_showers=12), data=st.data())
def test_slicing_lazy_then_computing_equals_computing_then_slicing(
    suffix, showers, data
):
    n = len(showers)
    first = data.draw(indices(n), label="first")
    chunk = data.draw(st.integers(1, 5), label="chunk")
    expected = showers[first]
    for name in Showers.FIELDS:  # the in-memory result is numpy's
        reference = np.asarray(getattr(showers, name))[numpy_index(first)]
        assert np.array_equal(getattr(expected, name), reference), name
    second = data.draw(indices(len(expected)), label="second")
    # Filtering changes the showers (with radius=inf, points whose x^2 + y^2
    # overflows float32 are cut, as in 0.7), so that form has its own reference.
    cut = dict(radius=float("inf"), ecal_threshold=1e-3)
    filtered = showerdata.filter_showers(showers, **cut)[first]
    with scratch(suffix) as path:
        showerdata.save(showers, path)
        forms = {
            "loaded": (showerdata.load(path, chunks=chunk), expected),  # pushdown
            "chunked": (showers.chunk(chunk), expected),  # dask slicing of fields
            "processed": (
                showerdata.filter_showers(showerdata.load(path, chunks=chunk), **cut),
                filtered,
            ),
        }
        for form, (lazy, reference) in forms.items():
            sliced = lazy[first]
            assert sliced.is_lazy, form
            assert_showers_equal(sliced.compute(), reference)
            assert_showers_equal(sliced[second].compute(), reference[second])
