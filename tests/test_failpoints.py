"""Failpoints (showerdata/failpoints.py): a planned one stops the process at its
k-th hit, exactly; unplanned ones do nothing; a malformed plan is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from showerdata.failpoints import ENVIRONMENT_VARIABLE, parse

ROOT = Path(__file__).resolve().parents[1]

HITS = """
from showerdata.failpoints import failpoint
for hit in range(1, 6):
    print(hit, flush=True)
    failpoint("here")
    failpoint("elsewhere")
"""


def run_hits(plan: str | None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop(ENVIRONMENT_VARIABLE, None)
    if plan is not None:
        environment[ENVIRONMENT_VARIABLE] = plan
    return subprocess.run(
        [sys.executable, "-c", HITS],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


@pytest.mark.parametrize("k", [1, 3, 5])
def test_a_planned_kill_happens_at_the_kth_hit(k):
    done = run_hits(f"here={k}:kill")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == [str(hit) for hit in range(1, k + 1)]


def test_sigint_raises_keyboard_interrupt_at_the_kth_hit():
    done = run_hits("elsewhere=2:sigint; here=9:kill")
    # An uncaught KeyboardInterrupt ends Python by SIGINT.
    assert done.returncode == -signal.SIGINT and "KeyboardInterrupt" in done.stderr
    assert done.stdout.split() == ["1", "2"]


@pytest.mark.parametrize("plan", [None, "", "here=6:kill", "other=1:kill"])
def test_unplanned_failpoints_do_nothing(plan):
    done = run_hits(plan)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize(
    "plan", ["here=0:kill", "here=3", "here=3:explode", "=3:kill", "here=x:kill"]
)
def test_a_malformed_plan_is_refused(plan):
    with pytest.raises(ValueError, match=f"{ENVIRONMENT_VARIABLE}: .* is not"):
        parse(plan)
    done = run_hits(plan)
    assert done.returncode == 1 and ENVIRONMENT_VARIABLE in done.stderr


def test_a_plan_of_several_failpoints():
    assert parse(" a.b=2:kill ;c=1:sigint;") == {"a.b": (2, "kill"), "c": (1, "sigint")}
