"""``Showers.__eq__`` field by field, in every form, and as showerdata 0.7.0 decides.

The cases (``fixtures/equality_cases.py``) change one field of one shower of a
copy, or a field's shape or dtype. Each changed field alone must make the
copy unequal, whichever shower is changed and whether either side is lazy;
the expected answers are worked out from 0.7's ``__eq__`` and checked against
0.7 itself when its environment is available.
"""

from __future__ import annotations

import equality_cases
import numpy as np
import pytest
from conftest import FIXTURES, assert_showers_equal

from showerdata import Showers

CASES = list(equality_cases.CASES)
#: (changed shower, form of the original, form of the changed copy): the change
#: in the first, a middle and the last shower; lazy sides chunked differently.
COMBINATIONS = [
    (6, "memory", "memory"),
    (0, "chunk-4", "chunk-5"),
    (11, "memory", "chunk-5"),
    (11, "chunk-4", "memory"),
]


def in_form(showers: Showers, form: str) -> Showers:
    return showers if form == "memory" else showers.chunk(int(form.split("-")[1]))


def original_and_changed(case: str, k: int) -> tuple[Showers, Showers]:
    arrays = equality_cases.base_arrays()
    original = Showers(**arrays)
    changed = Showers(**equality_cases.base_arrays())
    for attribute, value in equality_cases.CASES[case](arrays, k).items():
        setattr(changed, attribute, value)
    return original, changed


@pytest.mark.parametrize("k, left_form, right_form", COMBINATIONS, ids=lambda v: str(v))
@pytest.mark.parametrize("case", CASES)
def test_each_field_alone_decides_equality(case, k, left_form, right_form):
    original, changed = original_and_changed(case, k)
    expected = equality_cases.EXPECTED_EQUAL.get(case, False)
    if not expected:  # the case really changes something
        assert any(
            getattr(original, n).shape != getattr(changed, n).shape
            or not np.array_equal(getattr(original, n), getattr(changed, n))
            for n in Showers.FIELDS
        )
    left, right = in_form(original, left_form), in_form(changed, right_form)
    assert (left == right) is expected
    if left_form == right_form:  # lazy comparisons cost a compute each
        assert (right == left) is expected
        assert (left != right) is not expected


V07_EQUALITY = """
import json, sys
sys.path.insert(0, sys.argv[1])
import equality_cases
from showerdata import Showers

answers = {}
for case, change in equality_cases.CASES.items():
    for k in equality_cases.SHOWER_INDICES:
        arrays = equality_cases.base_arrays()
        original = Showers(**arrays)
        changed = Showers(**equality_cases.base_arrays())
        for attribute, value in change(arrays, k).items():
            setattr(changed, attribute, value)
        answers[f"{case}/{k}"] = [original == changed, changed == original]
print(json.dumps(answers))
"""


def test_expected_answers_are_those_of_v07(v07):
    answers = v07(V07_EQUALITY, str(FIXTURES))
    expected = {
        f"{case}/{k}": [equality_cases.EXPECTED_EQUAL.get(case, False)] * 2
        for case in CASES
        for k in equality_cases.SHOWER_INDICES
    }
    assert answers == expected


@pytest.mark.parametrize(
    "case, message",
    [
        (
            "points energy",
            r"field 'points' differs in 1 of 12 showers; first "
            r"differing shower: 6, point 2: actual .*0\.5",
        ),
        (
            "num_points",
            "field 'num_points' differs in 1 of 12 showers; first "
            "differing shower: 6: actual 0",
        ),
        ("energies as float64", "field 'energies': dtype float64 != float32"),
        (
            "points without time",
            r"field 'points': shape \(12, 9, 4\) != "
            r"\(12, 9, 5\)",
        ),
    ],
)
def test_assert_showers_equal_names_field_and_shower(case, message):
    original, changed = original_and_changed(case, 6)
    with pytest.raises(AssertionError, match=message):
        assert_showers_equal(changed.chunk(5), original)
    assert_showers_equal(original.chunk(5), original)


def test_assert_showers_equal_sees_negative_zero():
    original, changed = original_and_changed("points negative zero padding", 11)
    assert changed == original  # as in 0.7, but the bytes differ
    with pytest.raises(AssertionError, match="first differing shower: 11, point 8"):
        assert_showers_equal(changed, original)


def test_equality_of_lazy_showers_is_one_dask_computation_and_of_numpy_none():
    from dask.callbacks import Callback

    memory = Showers(**equality_cases.base_arrays())
    started = []
    with Callback(start=lambda dsk: started.append(len(dsk))):
        assert memory == memory.copy()
        assert len(started) == 0
        assert memory.chunk(5) == memory.chunk(4)
        assert memory.chunk(5) == memory
    assert len(started) == 2
