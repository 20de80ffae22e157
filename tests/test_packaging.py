"""pyproject's lower bounds are the versions the lowest-versions run installs.

``make test`` runs the suite once with the pins of .ci/constraints-lowest.txt, so
a lower bound in pyproject.toml is tested only while it equals its pin there.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def pins() -> dict[str, Version]:
    found = {}
    for line in (REPO / ".ci" / "constraints-lowest.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", line
            found[requirement.name] = Version(spec.version)
    return found


def lower_bound(requirement: Requirement) -> Version | None:
    bounds = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    return max(bounds) if bounds else None


def test_every_runtime_dependency_is_pinned_at_its_lower_bound():
    pinned = pins()
    for line in project()["dependencies"]:
        requirement = Requirement(line)
        bound = lower_bound(requirement)
        assert bound is not None, f"{line}: no lower bound"
        assert pinned.get(requirement.name) == bound, (
            f"{line}: .ci/constraints-lowest.txt pins {pinned.get(requirement.name)}"
        )


def test_pins_of_extras_are_their_lower_bounds():
    pinned = pins()
    for lines in project()["optional-dependencies"].values():
        for requirement in map(Requirement, lines):
            if requirement.name in pinned:
                assert pinned[requirement.name] == lower_bound(requirement), requirement


def test_torch_is_never_required_by_a_range():
    """PyTorch is large and picky about versions: pin it exactly, if ever needed."""
    metadata = project()
    lines = metadata["dependencies"] + [
        line for group in metadata["optional-dependencies"].values() for line in group
    ]
    for requirement in map(Requirement, lines):
        if requirement.name == "torch":
            (spec,) = requirement.specifier
            assert spec.operator == "==", requirement
