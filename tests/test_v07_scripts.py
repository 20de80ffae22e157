"""showerdata 0.7 programs give 0.7.0's results and exceptions under ours.

Every program of :mod:`v07_scripts` runs under 0.7.0 (the ``v07`` fixture) and
under ours with ``DASK_SHOWERDATA__LAZY=False``. Each step must give the same
value, or raise an exception of 0.7's type (or a subclass) whose message
starts with 0.7's. The differences that remain are listed in
``KNOWN_DIFFERENCES`` and in docs/migration.md, and must still be differences:
a fixed one is taken off both lists.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import v07_scripts
from test_v07_mode import fill_torch_step, run_ours

#: (script, step) -> why ours differs; docs/migration.md says the same.
KNOWN_DIFFERENCES = {
    ("errors", "points_2d"): "0.7 failed in numpy (IndexError) before its check",
    ("errors", "points_f3"): "0.7 failed in numpy (IndexError) before its check",
    ("errors", "load_missing_file"): "FileNotFoundError with our text, not h5py's",
    ("observables", "mine"): "reads observables stored with save_observables_to_file",
    ("targets", "file"): "target num_points always int32 (0.7 kept the input dtype)",
    ("modules", "filtered"): "commands write 'shape' as save does (int64)",
    ("modules", "clustered"): "commands write 'shape' as save does (int64)",
    ("modules", "entry_filtered"): "commands write 'shape' as save does (int64)",
    ("edges", "start_past_end"): "a start past the end raises IndexError",
    ("edges", "negative_index"): "showers[-1] is the last shower",
    ("edges", "max_points_counts"): "load(max_points=k) clips num_points to k",
}


def same(ours: list, theirs: list) -> bool:
    """Whether a step of ours behaved as 0.7's (see the module docstring)."""
    if theirs[0] == "raised" and ours[0] == "raised":
        return theirs[1][0] in ours[1] and ours[2].startswith(theirs[2])
    return ours == theirs


@pytest.mark.parametrize("name", sorted(v07_scripts.SCRIPTS))
def test_a_v07_program_behaves_as_under_v07(tmp_path: Path, v07, name: str):
    script = v07_scripts.program(name)
    ours = run_ours(script, tmp_path / "ours")
    (tmp_path / "v07").mkdir()
    theirs = v07(script, str(tmp_path / "v07"))
    fill_torch_step(ours, theirs)
    assert ours.keys() == theirs.keys()
    for step, expected in theirs.items():
        known = (name, step) in KNOWN_DIFFERENCES
        assert same(ours[step], expected) != known, (step, ours[step], expected)


def test_the_known_differences_are_documented():
    text = (Path(__file__).parents[1] / "docs" / "migration.md").read_text()
    for reason in set(KNOWN_DIFFERENCES.values()):
        assert reason in text, reason


V07_MODULES = (
    "core",
    "filter",
    "cluster_module",
    "shift_showers",
    "shuffle",
    "observables",
    "detector",
    "__main__",
)

#: Lists, per 0.7 module, the functions and classes defined there and their
#: parameters (name, default repr for plain defaults).
LIST_V07_API = r"""
import importlib, inspect, json
out = {}
for module_name in MODULES:
    module = importlib.import_module("showerdata." + module_name)
    names = {}
    for name, item in vars(module).items():
        if name.startswith("_") or getattr(item, "__module__", None) != module.__name__:
            continue
        if not (inspect.isfunction(item) or inspect.isclass(item)):
            continue
        params = []
        if inspect.isfunction(item):
            for p in inspect.signature(item).parameters.values():
                plain = isinstance(p.default, (int, float, str, bool, type(None)))
                params.append([p.name, repr(p.default) if plain else "?"])
        names[name] = params
    out[module_name] = names
print(json.dumps(out))
"""


def test_v07_module_functions_exist_with_their_parameters(v07):
    import importlib
    import inspect

    script = f"MODULES = {V07_MODULES!r}\n" + LIST_V07_API
    theirs = v07(script)
    for module_name, names in theirs.items():
        module = importlib.import_module(f"showerdata.{module_name}")
        for name, params in names.items():
            assert hasattr(module, name), f"showerdata.{module_name}.{name}"
            item = getattr(module, name)
            if not params:
                continue
            ours = list(inspect.signature(item).parameters.values())
            where = f"showerdata.{module_name}.{name}"
            assert [p.name for p in ours[: len(params)]] == [p for p, _ in params], (
                where
            )
            for parameter, (_, default) in zip(ours, params, strict=False):
                if default != "?":
                    assert repr(parameter.default) == default, (where, parameter)
