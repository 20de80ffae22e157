"""Running one measurement in a fresh interpreter and collecting its peak RSS.

A child runs ``PRELUDE + code`` with ``python -c``; the code times its operation
itself with :func:`time.perf_counter` (imports and setup excluded) and reports
through ``emit(...)``, which prints one JSON line with a marker. The parent
reaps the child with :func:`os.wait4`, whose resource usage gives the child's
peak resident set size (``ru_maxrss``, KiB on Linux).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

MARKER = "@@BENCH@@"

#: Code every child starts with: ``PARAMS`` from argv and the ``emit`` helper.
PRELUDE = f"""
import json, sys, time
PARAMS = json.loads(sys.argv[1])

def emit(**values):
    print({MARKER!r} + json.dumps(values), flush=True)
"""


class ChildError(RuntimeError):
    """A child exited with an error or reported nothing."""


@dataclass
class ChildResult:
    """What one child reported, with its peak RSS in bytes."""

    values: dict[str, Any]
    peak_rss_bytes: int
    wall_seconds: float = 0.0
    stderr_tail: str = field(default="", repr=False)


def child_env(pythonpath: str | None = None) -> dict[str, str]:
    """Environment for children: without the caller's PYTHONPATH, so nothing
    shadows, and with ``pythonpath`` if given (the checkout ours comes from)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def parse_emitted(stdout: str) -> dict[str, Any]:
    """Merge every ``emit(...)`` line of a child's output (later keys win)."""
    values: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            values.update(json.loads(line[len(MARKER) :]))
    return values


def run_child(
    python: str,
    code: str,
    params: dict[str, Any],
    cwd: str | os.PathLike[str],
    timeout: float = 1800.0,
    pythonpath: str | None = None,
) -> ChildResult:
    """Run ``code`` in a fresh ``python`` and return what it emitted.

    Parameters
    ----------
    python : str
        Interpreter to run.
    code : str
        Snippet run after :data:`PRELUDE`; must call ``emit(...)``.
    params : dict
        JSON-serialisable parameters, available as ``PARAMS`` in the child.
    cwd : path
        Working directory; keep it outside the repository for showerdata 0.7,
        whose import name our ``showerdata/`` directory would shadow.
    timeout : float
        Seconds after which the child is killed.
    pythonpath : str, optional
        ``PYTHONPATH`` of the child: for ours the checkout holding these
        benchmarks, so its ``showerdata`` is measured whatever the
        interpreter has installed (an editable install of another checkout).

    Raises
    ------
    ChildError
        The child failed, timed out or emitted nothing.
    """
    import time

    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
    ):
        begin = time.perf_counter()
        process = subprocess.Popen(
            [python, "-c", PRELUDE + code, json.dumps(params)],
            cwd=cwd,
            env=child_env(pythonpath),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - begin
        # We reaped the child ourselves; tell Popen so it does not wait again.
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    values = parse_emitted(stdout)
    if process.returncode != 0 or not values:
        reason = (
            f"exit code {process.returncode}"
            if process.returncode != 0
            else "no result emitted"
        )
        raise ChildError(f"{reason}:\n{stderr[-3000:]}")
    return ChildResult(
        values=values,
        peak_rss_bytes=usage.ru_maxrss * 1024,
        wall_seconds=wall,
        stderr_tail=stderr[-2000:],
    )
