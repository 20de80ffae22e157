"""Tests for indexing showers: normalize_index, compose and ``showers[...]``."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import showerdata
from showerdata import IncidentParticles, Showers
from showerdata.indexing import compose, normalize_index, selection_length
from showerdata.toy import toy_arrays

N = 13
P = 16
CHUNK = 4

FAST = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def index_id(index: object) -> str:
    """A test id for an index that reads the same in every process.

    numpy's repr of arrays and scalars depends on its print options and may
    span lines; an id that changes between collections cannot be named on
    the command line (as mutmut names the tests it runs).
    """
    if isinstance(index, np.ndarray):
        return f"array({index.tolist()})"
    if isinstance(index, np.generic):
        return f"{type(index).__name__}({index.item()!r})"
    return repr(index)


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return toy_arrays(0, N, seed=3, max_points=P, num_features=5)


@pytest.fixture(scope="module")
def forms(data, tmp_path_factory) -> dict[str, Showers]:
    """The same showers in memory, lazy from arrays and lazy from a file."""
    memory = Showers(**data)
    path = tmp_path_factory.mktemp("indexing") / "showers.h5"
    showerdata.save(memory, path)
    loaded = showerdata.load(path, chunks=CHUNK)
    assert loaded._source is not None
    return {"memory": memory, "lazy": memory.chunk(CHUNK), "loaded": loaded}


FORMS = ["memory", "lazy", "loaded"]


def reference(index):
    """What ``showers[index]`` selects, as a numpy index that keeps the axis."""
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        return [index]
    if isinstance(index, list):
        return np.asarray(index) if index else np.empty(0, dtype=np.intp)
    return index


def assert_selects(result: Showers, data: dict[str, np.ndarray], index) -> None:
    computed = result.compute()
    assert not computed.is_lazy
    for name in Showers.FIELDS:
        expected = data[name][reference(index)]
        actual = getattr(computed, name)
        assert actual.dtype == expected.dtype, name
        assert actual.shape == expected.shape, name
        np.testing.assert_array_equal(actual, expected, err_msg=name)


# -- normalize_index --------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, slice(0, 1, 1)),
        (4, slice(4, 5, 1)),
        (-1, slice(9, 10, 1)),
        (-10, slice(0, 1, 1)),
        (np.int64(3), slice(3, 4, 1)),
        (np.array(3), slice(3, 4, 1)),
        (slice(None), slice(0, 10, 1)),
        (slice(2, 100, 3), slice(2, 10, 3)),
        (slice(7, 2), slice(7, 7, 1)),
        (slice(-3, None), slice(7, 10, 1)),
        (..., slice(0, 10, 1)),
        ((), slice(0, 10, 1)),
        ((5,), slice(5, 6, 1)),
        ((slice(1, 3),), slice(1, 3, 1)),
    ],
)
def test_normalize_index_to_slices(index, expected) -> None:
    assert normalize_index(index, 10) == expected


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (slice(None, None, -1), list(range(9, -1, -1))),
        (slice(8, 2, -3), [8, 5]),
        ([3, 1, 1, -1], [3, 1, 1, 9]),
        (np.array([9, 0, 4], dtype=np.uint8), [9, 0, 4]),
        ([], []),
        (np.array([], dtype=np.float64), []),
        ([True, False] * 5, [0, 2, 4, 6, 8]),
        (np.zeros(10, dtype=bool), []),
        (([2, 2],), [2, 2]),
    ],
)
def test_normalize_index_to_positions(index, expected) -> None:
    selection = normalize_index(index, 10)
    assert isinstance(selection, np.ndarray)
    assert selection.dtype == np.int64
    np.testing.assert_array_equal(selection, expected)
    assert selection_length(selection, 10) == len(expected)


@pytest.mark.parametrize(
    ("index", "error"),
    [
        (10, IndexError),
        (-11, IndexError),
        ([0, 10], IndexError),
        (np.array([-11]), IndexError),
        ([True] * 9, IndexError),
        (np.ones(11, dtype=bool), IndexError),
        ((1, 2), ValueError),
        ((slice(None), 0), ValueError),
        (np.zeros((2, 2), dtype=int), ValueError),
        ([[0, 1]], ValueError),
        (1.5, TypeError),
        (np.float64(2.0), TypeError),
        (np.array([1.0, 2.0]), TypeError),
        ([0.5], TypeError),
        ("0", TypeError),
        (None, TypeError),
        (True, TypeError),
        (np.bool_(False), TypeError),
        (slice(0, 5, 0), ValueError),
        (slice(0.5, 2), TypeError),
    ],
)
def test_normalize_index_errors(index, error) -> None:
    with pytest.raises(error):
        normalize_index(index, 10)


MULTI_AXIS = (
    "Multi-dimensional indexing is not supported. (index showers along the first "
    "axis, then slice the fields, e.g. s.points[:, :10])"
)
NOT_AN_INDEX = (
    "Shower indices must be integers, slices, lists or arrays of integers or "
    "boolean masks, got {!r}."
)


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (10, "Index out of range. (shower index 10, 10 showers)"),
        (-11, "Index out of range. (shower index -11, 10 showers)"),
        ([0, 3, 12, 10], "Index out of range. (shower index 12, 10 showers)"),
        (
            np.array([2**63], dtype=np.uint64),
            "Index out of range. (shower index 9223372036854775808, 10 showers)",
        ),
        ([True] * 9, "Boolean mask of length 9 does not match 10 showers."),
        ((1, 2), MULTI_AXIS),
        (
            np.zeros((2, 3), dtype=int),
            "Multi-dimensional indexing is not "
            "supported. (the index has shape (2, 3); use a 1-D list or array of "
            "shower positions)",
        ),
        (1.5, NOT_AN_INDEX.format(1.5)),
        ("0", NOT_AN_INDEX.format("0")),
        ([0.5], "Shower indices must be integers, got an array of dtype float64."),
        (
            [True, 2],
            "Shower indices mix booleans and integers ([True, 2]); use a "
            "boolean mask of one value per shower or a list of integer positions.",
        ),
        (True, "Cannot index showers with a boolean scalar (True)."),
    ],
    ids=index_id,
)
def test_normalize_index_error_messages(index, message: str) -> None:
    with pytest.raises((IndexError, TypeError, ValueError)) as raised:
        normalize_index(index, 10)
    assert str(raised.value) == message


def test_normalize_index_on_empty_axis() -> None:
    assert selection_length(normalize_index(slice(None), 0), 0) == 0
    assert len(normalize_index([], 0)) == 0
    with pytest.raises(IndexError):
        normalize_index(0, 0)
    with pytest.raises(IndexError):
        normalize_index(-1, 0)


# -- Showers[...] -----------------------------------------------------------------

INDICES = [
    0,
    5,
    N - 1,
    -1,
    -N,
    np.int32(7),
    slice(None),
    slice(2, 9),
    slice(1, None, 3),
    slice(None, None, -1),
    slice(-2, 1, -4),
    slice(9, 2),
    slice(100, 200),
    [4],
    [12, 0, 5, 5, 2],
    [-1, -13, 6],
    np.array([8, 3, 3, 11, 0]),
    np.array([True, False, True] * 4 + [True]),
    [],
    ...,
    (),
]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("index", INDICES, ids=index_id)
def test_indexing_selects_like_numpy(forms, data, form: str, index) -> None:
    result = forms[form][index]
    assert isinstance(result, Showers)
    assert result.is_lazy == (form != "memory")
    if result.is_lazy:
        chunks = result.chunks
        for name in Showers.FIELDS:
            assert getattr(result, name).chunks[0] == chunks, name
    assert_selects(result, data, index)


@pytest.mark.parametrize("form", FORMS)
def test_tuple_of_length_one_is_the_index_itself(forms, data, form: str) -> None:
    s = forms[form]
    assert s[(3,)].compute() == s[3].compute()
    assert s[([1, 0],)].compute() == s[[1, 0]].compute()
    assert s[(slice(2, 5),)].compute() == s[2:5].compute()


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("index", "error"),
    [
        (N, IndexError),
        (-N - 1, IndexError),
        ([0, N], IndexError),
        (np.ones(N - 1, dtype=bool), IndexError),
        ((0, 1), ValueError),
        ((slice(None), slice(0, 2)), ValueError),
        (np.zeros((2, 1), dtype=int), ValueError),
        (1.0, TypeError),
        (np.array([0.0, 1.0]), TypeError),
        (True, TypeError),
    ],
    ids=index_id,
)
def test_bad_indices_raise_like_0_7(forms, form: str, index, error) -> None:
    with pytest.raises(error):
        forms[form][index]


def test_lazy_indexing_reads_nothing_until_computed(data) -> None:
    bad = {name: value.copy() for name, value in data.items()}
    bad["points"][10, 0, 3] = -1.0
    lz = Showers(**{k: da.from_array(v, chunks=CHUNK) for k, v in bad.items()})
    selected = lz[[10, 0]]  # builds a graph; the check runs at compute
    with pytest.raises(showerdata.ShowerDataError, match="shower 10"):
        selected.compute()
    assert lz[:CHUNK].compute().points.shape == (CHUNK, P, 5)


def test_indexing_empty_showers() -> None:
    empty = Showers()
    assert empty[:].is_empty
    assert empty[[]].is_empty
    assert empty[...].points.shape == (0, 0, 5)
    with pytest.raises(IndexError):
        empty[0]
    assert empty.chunk(2)[:].compute() == empty


def test_incident_particles_indexing(data) -> None:
    particles = IncidentParticles(data["energies"], data["pdg"], data["directions"])
    lz = particles.chunk(CHUNK)
    for index in (3, -1, slice(None, None, -2), [5, 5, 0], np.arange(N) % 2 == 0):
        for sub in (particles[index], lz[index]):
            np.testing.assert_array_equal(
                np.asarray(sub.energies), data["energies"][reference(index)]
            )
            np.testing.assert_array_equal(
                np.asarray(sub.directions), data["directions"][reference(index)]
            )
    with pytest.raises(IndexError):
        lz[-N - 1]
    with pytest.raises(TypeError):
        particles[0.0]


# -- random indices ---------------------------------------------------------------


def indices(length: int) -> st.SearchStrategy:
    positions = st.integers(-length, length - 1) if length else st.nothing()
    return st.one_of(
        positions,
        st.slices(length) if length else st.just(slice(None)),
        st.lists(positions, max_size=2 * length),
        st.lists(st.booleans(), min_size=length, max_size=length),
        st.builds(np.array, st.lists(positions, max_size=2 * length)).map(
            lambda a: a.astype(np.int64)
        ),
    )


@FAST
@given(st.data())
def test_random_index_matches_numpy_in_every_form(forms, data, draw) -> None:
    index = draw.draw(indices(N), label="index")
    for form in FORMS:
        assert_selects(forms[form][index], data, index)


@FAST
@given(st.data())
def test_slicing_lazy_then_computing_equals_computing_then_slicing(forms, draw) -> None:
    first = draw.draw(indices(N), label="first")
    expected = forms["memory"][first]
    second = draw.draw(indices(len(expected)), label="second")
    expected = expected[second]
    for form in ("lazy", "loaded"):
        selected = forms[form][first][second]
        assert selected.is_lazy
        assert selected.compute() == expected
    assert forms["lazy"].compute()[first][second] == expected


@FAST
@given(st.data())
def test_compose_equals_selecting_twice(draw) -> None:
    length = draw.draw(st.integers(0, 40), label="length")
    outer = normalize_index(draw.draw(indices(length), label="outer"), length)
    middle = selection_length(outer, length)
    inner = normalize_index(draw.draw(indices(middle), label="inner"), middle)
    composed = compose(outer, inner, length)
    positions = np.arange(length)
    np.testing.assert_array_equal(positions[composed], positions[outer][inner])
    assert selection_length(composed, length) == selection_length(inner, middle)
    if isinstance(outer, slice) and isinstance(inner, slice):
        assert isinstance(composed, slice)  # contiguous reads stay contiguous


def test_compose_does_not_materialize_the_outer_slice() -> None:
    # files can hold ~10^8 showers: picking a few rows must not build arange(N)
    length = 10**13
    composed = compose(slice(10, length, 3), np.array([0, 5, 2]), length)
    np.testing.assert_array_equal(composed, [10, 25, 16])
    assert compose(slice(10, length, 3), slice(5, 7, 1), length) == slice(25, 31, 3)


def test_loaded_selection_stays_pushed_down(forms, data) -> None:
    loaded = forms["loaded"]
    picked = loaded[2:11:2][[3, 0, 0]]
    assert picked._source is not None
    assert picked.chunks == (3,)
    assert_selects(picked, data, [8, 2, 2])


def test_slicing_leaves_no_empty_chunks(forms, data) -> None:
    # dask keeps empty chunks after x[:5:5] (chunks (1, 0)), and its fancy
    # indexing then fails; found by the random-index test above.
    one = forms["lazy"][:5:5]
    assert one.chunks == (1,)
    assert_selects(one[[0, 0]], data, [0, 0])
    assert forms["lazy"][N:].chunks == (0,)
    assert forms["lazy"][N:][[]].compute().is_empty


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (slice(2, 11, 3), [2, 5, 8]),
        (slice(None, None, -4), [12, 8, 4, 0]),
        (np.array([7, 1, 7], np.int32), [7, 1, 7]),
        (np.array([3, 0], np.uint16), [3, 0]),
        ([5, 2], [5, 2]),
    ],
)
def test_selected_rows_are_int64_positions_in_order(selection, expected):
    from showerdata.indexing import selected_rows

    rows = selected_rows(selection, N)
    assert rows.dtype == np.int64
    assert rows.tolist() == expected
