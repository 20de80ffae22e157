"""Failpoints: named places in the writers where a test can stop the process.

A test facility, in the manner of the failpoints of etcd and TiKV: the crash
tests run a writer in a child process with, e.g.::

    SHOWERDATA_FAILPOINTS="hdf5.after-chunk=3:kill"

and the child kills itself (SIGKILL, nothing runs after it) exactly when it
reaches ``hdf5.after-chunk`` for the third time, so a test can check what a
crash at that point leaves behind, every time, whatever the machine's speed.
Several failpoints are separated by ``;``. Actions:

``kill``
    SIGKILL this process: what a crash, an out-of-memory kill or a lost node
    leaves.
``sigint``
    SIGINT this process: what Ctrl-C does (Python raises ``KeyboardInterrupt``
    in the main thread), for the clean-up paths.

The points (where they are in the code says exactly when they are hit):

``hdf5.after-chunk``
    An HDF5 writer has written a block of rows (``save``, ``save_batch``,
    ``convert``), before a ``save_batch`` flushes it.
``hdf5.before-rename``
    A new HDF5 file is complete and closed under its temporary name.
``zarr.before-record``
    A zarr writer has written a shard of every array, and not yet set its
    entry in the ``chunks_written`` record.
``zarr.after-shard``
    ... and has set it.
``zarr.before-complete``
    Every shard of a new store is written; the store is not yet marked
    complete.
``zarr.before-rename``
    A new local store is complete under its temporary name.
``replace.after-exchange``
    A new store and the previous one at its path have swapped places; the
    previous one is not yet removed.
``convert.before-rename``
    ``convert`` has written the whole copy under its working name.

The environment variable is read once, at import: unset, :func:`failpoint`
is a function that does nothing. Hits are counted per process (each dask
worker process counts its own).
"""

from __future__ import annotations

import os
import signal
import threading

ENVIRONMENT_VARIABLE = "SHOWERDATA_FAILPOINTS"
ACTIONS = {"kill": signal.SIGKILL, "sigint": signal.SIGINT}


def parse(text: str) -> dict[str, tuple[int, str]]:
    """``"name=k:action;..."`` as ``{name: (k, action)}``.

    Raises
    ------
    ValueError
        A failpoint that is not ``name=k:action`` with ``k >= 1`` and a known
        action: a test that sets one wrongly must not pass for want of a crash.
    """
    planned = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        name, _, rest = entry.partition("=")
        count, _, action = rest.partition(":")
        if not (name and count.isdigit() and int(count) >= 1 and action in ACTIONS):
            raise ValueError(
                f"{ENVIRONMENT_VARIABLE}: '{entry}' is not name=k:action with k >= 1 "
                f"and action one of {sorted(ACTIONS)}"
            )
        planned[name.strip()] = (int(count), action)
    return planned


_planned = parse(os.environ.get(ENVIRONMENT_VARIABLE, ""))
_hits: dict[str, int] = {}
_lock = threading.Lock()


def _unplanned(name: str) -> None:
    """Failpoint ``name``: none is planned in this process, so nothing happens."""


def _counted(name: str) -> None:
    """Failpoint ``name``: act on the planned hit of it."""
    plan = _planned.get(name)
    if plan is None:
        return
    with _lock:
        _hits[name] = hits = _hits.get(name, 0) + 1
    if hits == plan[0]:
        os.kill(os.getpid(), ACTIONS[plan[1]])


#: ``failpoint(name)``: a place a test may stop the process at (see above).
failpoint = _counted if _planned else _unplanned
