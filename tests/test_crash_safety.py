"""Crash safety: writers killed mid-write must not lose productions.

A child process writes a lazy toy production (computed and written chunk by
chunk, ~1 s) and dies. The main evidence is deterministic: the child kills
itself at a chosen failpoint (``SHOWERDATA_FAILPOINTS``, see
``showerdata/failpoints.py``): after chunk k, before the chunk record is set,
before and after the renames that put a new file or store in place. As an
extra, the same writers are SIGKILLed after seeded random delays. Then:

* ``save`` (fresh path or ``overwrite=True``): the destination is absent, the
  previous complete file (same bytes, same showers), or the complete new file.
  Killed writers leave their temporary file behind (nothing can clean up after
  SIGKILL); we count those and check they do not get in the way of later saves.
* ``save_batch`` writes in place (0.7's design), so a crash cannot be undone.
  What we guarantee, and check: the file still opens with its layout, every
  row outside the batch is bit-identical, and a row inside the batch is the new
  row, the untouched old row, or an error when read -- never different data.

Every trial runs for HDF5 and for the zarr mirror. Zarr promises more: a store
is built beside its destination, so after a killed ``save`` the path holds
nothing or the previous store, and ``save(..., resume=True)`` finishes the job
with exactly the showers of an uninterrupted run; a killed ``save_batch`` is
simply rerun. ``convert`` (HDF5 -> zarr and back) is killed the same way: the
destination is absent, the previous one or the complete conversion, and a
rerun gives the same output.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pytest
import zarr
from conftest import assert_showers_equal, digest

import showerdata
from showerdata import ShowerDataError, ShowerDataFile, Showers
from showerdata.config import CHUNK_BYTES_KEY
from showerdata.failpoints import ENVIRONMENT_VARIABLE as FAILPOINTS
from showerdata.io.zarr.store import CHUNKS_WRITTEN
from showerdata.toy import toy_showers

pytestmark = pytest.mark.timeout(120)

#: Formats of the SIGKILL trials: the HDF5 interchange format and the zarr mirror.
FORMATS = [".h5", ".zarr"]
#: Formats of the save_batch rerun test, which watches the file grow to time its
#: kill (HDF5 only; the zarr save_batch trials rerun every killed batch).
SUFFIXES = [".h5"]

#: Random kills per series (an extra: the failpoint tests are the evidence).
TRIALS = 5
# Big enough that writing takes about a second here (tens of chunks), so
# random kills can land mid-write; small enough for ~10 s per series.
NUM_SHOWERS, MAX_POINTS, CHUNK = 6000, 300, 200
CHUNKS = NUM_SHOWERS // CHUNK  # chunks the writers write, one shard each in zarr
NEW_SEED, OLD_SEED, OUTSIDE_SEED = 1, 2, 3
MARGIN = 500  # rows before and after a batch, written beforehand

REPOSITORY = Path(__file__).resolve().parents[1]

# Builds the (lazy, cheap) data first, then says "ready" right before writing,
# so the parent's random delay is measured from the start of the write. With
# failpoints, one dask thread writes the chunks, so "chunk k" is exactly k.
CHILD = """
import os, sys, time
import dask
import showerdata
from showerdata.toy import toy_showers
if os.environ.get("SHOWERDATA_FAILPOINTS"):
    dask.config.set(scheduler="synchronous")
mode, path, seed, count, max_points, chunk, start = sys.argv[1:8]
data = toy_showers(int(count), max_points=int(max_points), chunks=int(chunk),
                   seed=int(seed))
print("ready", flush=True)
began = time.perf_counter()
if mode == "save":
    showerdata.save(data, path, overwrite=True)
elif mode == "convert":  # the source in argv[8], read in chunks of `chunk` showers
    chunk_bytes = int(chunk) * int(max_points) * 5 * 4
    with dask.config.set({"showerdata.chunk-bytes": chunk_bytes}):
        showerdata.convert(sys.argv[8], path, overwrite=True)
else:
    showerdata.save_batch(data, path, int(start))
print("done", time.perf_counter() - began, flush=True)
"""


@dataclass
class Run:
    """How a writer child ended."""

    finished: bool  # wrote everything before the kill (or was not killed)
    seconds: float | None  # how long the write took, if it finished


# Forks one writer child per trial from an interpreter that has already
# imported showerdata's dependencies (two seconds of imports per trial
# otherwise). It has run no dask, zarr or HDF5 code, so it has no threads or
# open files, and a forked child is as fresh as a new process. The child sets
# its environment (the failpoints) and then imports showerdata, which reads it.
# Children print their pid first; the zygote prints "exit <pid> <code>" when one
# has ended, but reaps it only when the next trial starts, so the pid the
# parent may still kill is never reused.
ZYGOTE = """
import json, os, sys, traceback
import dask, dask.array, h5py, numba, numcodecs, numpy, zarr
assert "showerdata" not in sys.modules
source = sys.argv[1]
print("zygote", flush=True)
ended = None
for line in sys.stdin:
    if ended is not None:
        os.waitpid(ended, 0)
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            request = json.loads(line)
            os.environ.update(request["env"])
            sys.argv = ["-c", *request["argv"]]
            print("pid", os.getpid(), flush=True)
            exec(compile(source, "<writer>", "exec"), {"__name__": "__main__"})
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # not reaped
    code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
    print("exit", pid, code, flush=True)
    ended = pid
"""


class Zygote:
    """The forking interpreter of :data:`ZYGOTE`, started on first use."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"zygote-{os.getpid()}.log"
        self.buffer = b""

    def readline(self, timeout: float = 60.0) -> str:
        """Next line the zygote or its child printed (TimeoutError, EOFError)."""
        assert self.process is not None and self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([descriptor], [], [], remaining)[0]:
                raise TimeoutError(f"no line from the writer in {timeout} s")
            chunk = os.read(descriptor, 1 << 16)
            if not chunk:
                raise EOFError(f"the zygote died:\n{self.log.read_text()[-3000:]}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
        with open(self.log, "ab") as log:  # appends: run() truncates it
            self.process = subprocess.Popen(
                [sys.executable, "-c", ZYGOTE, CHILD],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                bufsize=0,
            )
        self.buffer = b""
        assert self.readline() == "zygote"

    def run(
        self,
        arguments: list[str],
        kill_after: float | None,
        environment: dict[str, str] | None = None,
    ) -> tuple[list[str], int]:
        """Fork a writer with ``arguments``; SIGKILL it ``kill_after`` s after "ready".

        ``environment``: variables to set in the writer (e.g. failpoints).
        Returns the lines it printed and its exit code (-9 if killed).
        """
        self.start()
        assert self.process is not None and self.process.stdin is not None
        self.log.write_bytes(b"")
        request = {"argv": arguments, "env": environment or {}}
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        pid = int(self.readline().removeprefix("pid "))
        try:
            lines = [self.readline()]
            assert lines[0] == "ready", f"{lines[0]}\n{self.log.read_text()[-3000:]}"
            if kill_after is not None:
                time.sleep(kill_after)
                with contextlib.suppress(ProcessLookupError):  # it had ended
                    os.kill(pid, signal.SIGKILL)
            while not (line := self.readline()).startswith(f"exit {pid} "):
                lines.append(line)
        except BaseException:
            # Leave no writer behind, and a zygote that is not mid-trial.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self.close()
            raise
        return lines, int(line.split()[2])

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        self.log.unlink(missing_ok=True)


WRITERS = Zygote()


@pytest.fixture(scope="module", autouse=True)
def _stop_writers() -> Iterator[None]:
    yield
    WRITERS.close()


def run_writer(
    mode: str,
    path: Path,
    start: int = 0,
    kill_after: float | None = None,
    source: Path | None = None,
    failpoint: str | None = None,
) -> Run:
    """Write the new production in a child process; SIGKILL it after a delay.

    ``mode`` is "save", "save_batch" (at row ``start``) or "convert" (``source``
    to ``path``). ``failpoint``, e.g. ``"hdf5.after-chunk=3:kill"``: the
    writer must die there (SIGKILL, or SIGINT's KeyboardInterrupt).
    """
    arguments = [mode, path, NEW_SEED, NUM_SHOWERS, MAX_POINTS, CHUNK, start]
    arguments += [source] if source is not None else []
    environment = {FAILPOINTS: failpoint} if failpoint else None
    lines, code = WRITERS.run([str(a) for a in arguments], kill_after, environment)
    log = WRITERS.log.read_text()[-3000:]
    if failpoint is not None:
        if failpoint.endswith(":kill"):
            assert code == -signal.SIGKILL, f"not killed at {failpoint}:\n{log}"
        else:
            assert code == 1 and "KeyboardInterrupt" in log, log
    elif kill_after is None:
        assert code == 0, log
    done = [line for line in lines if line.startswith("done")]
    return Run(bool(done), float(done[0].split()[1]) if done else None)


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def copy(source: Path, destination: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, destination)
    else:
        shutil.copy(source, destination)


@pytest.fixture(scope="module")
def new_showers() -> Showers:
    """What the children write, computed here to compare with."""
    return toy_showers(
        NUM_SHOWERS, max_points=MAX_POINTS, chunks=CHUNK, seed=NEW_SEED
    ).compute()


_write_times: dict[str, float] = {}


def write_time(tmp_path: Path, suffix: str, new_showers: Showers) -> float:
    """One uninterrupted run: how long a write takes, and that it is right."""
    if suffix in _write_times:
        return _write_times[suffix]
    path = tmp_path / f"calibration{suffix}"
    run = run_writer("save", path)
    assert run.finished and run.seconds is not None
    assert_showers_equal(showerdata.load(path).compute(), new_showers)
    remove(path)
    _write_times[suffix] = run.seconds
    return run.seconds


def delays(seed: int, seconds: float) -> list[float]:
    """Seeded kill delays spread over the write (a few after it ends)."""
    generator = random.Random(seed)
    return [generator.uniform(0.0, 1.1 * seconds) for _ in range(TRIALS)]


def report(name: str, outcomes: list[str], leftovers: int) -> None:
    counts = {kind: outcomes.count(kind) for kind in sorted(set(outcomes))}
    print(f"\n{name}: {counts}, leftover temporary files: {leftovers}")


def recorded_chunks(store: Path) -> dict[str, int]:
    """Record files of the chunks a (partial) zarr store has written: name -> mtime.

    One uncompressed byte per chunk of showers, set once the chunk is complete
    (docs/file-format.md).
    """
    record = store / CHUNKS_WRITTEN / "c"
    if not record.is_dir():
        return {}
    return {
        file.name: file.stat().st_mtime_ns
        for file in record.iterdir()
        if file.read_bytes() == b"\x01"
    }


def resume_killed_save(target: Path, new_showers: Showers) -> int:
    """Finish a killed zarr save with ``resume=True``: exactly the new showers.

    The chunks the killed save completed are kept, not written again. Returns
    how many there were. A partial store marked complete (killed before its
    rename, or holding the previous store after the exchange) is not resumed
    but replaced: it may be the old data.
    """
    partial = target.parent / f".{target.name}.partial"
    completed = recorded_chunks(partial)
    if (
        partial.exists()
        and zarr.open_group(partial, mode="r").attrs.get("showerdata_state")
        != "writing"
    ):
        completed = {}
    # The same data in the same chunks, as a rerun of the job would give.
    showerdata.save(new_showers.chunk(CHUNK), target, overwrite=True, resume=True)
    assert not partial.exists(), "the resumed save left its partial store"
    assert_showers_equal(showerdata.load(target).compute(), new_showers)
    kept = recorded_chunks(target)
    assert {name: kept[name] for name in completed} == completed, "rewritten"
    return len(completed)


@pytest.mark.parametrize(
    "created",
    [
        ["showers"],
        ["energies", "directions", "pdg"],
        ["energies", "directions", "pdg", "shower_ids", "showers", "shape"],
        [
            "energies",
            "directions",
            "pdg",
            "shower_ids",
            "showers",
            "shape",
            "num_points",
        ],
    ],
)
def test_a_zarr_save_killed_while_creating_its_arrays_resumes(
    tmp_path, created, make_showers
):
    """``resume=True`` after a kill before the chunk record exists starts afresh.

    A save killed in its first few milliseconds leaves a partial store with
    some arrays and no chunk record (made here from a complete store's
    metadata: arrays created, nothing written). Resuming it used to fail
    (zarr's ContainsArrayError, or "cannot resume"); the random kills above
    land there about one time in a hundred.
    """
    showers = make_showers(n=30, max_points=10).chunk(10)
    complete = tmp_path / "complete.zarr"
    showerdata.save(showers, complete)
    target = tmp_path / "killed.zarr"
    partial = tmp_path / f".{target.name}.partial"
    partial.mkdir()
    shutil.copy(complete / "zarr.json", partial)
    for name in created:
        (partial / name).mkdir()
        shutil.copy(complete / name / "zarr.json", partial / name)
    showerdata.save(showers, target, resume=True)
    assert not partial.exists()
    assert_showers_equal(showerdata.load(target).compute(), showers.compute())


def check_later_save_works(directory: Path, suffix: str, showers: Showers) -> None:
    """Leftovers of killed writers must not get in the way of the next save."""
    path = directory / f"later{suffix}"
    showerdata.save(showers[:50], path)
    showerdata.save(showers[50:90], path, overwrite=True)
    assert_showers_equal(showerdata.load(path).compute(), showers[50:90])


@pytest.mark.parametrize("suffix", FORMATS)
def test_save_overwrite_killed_keeps_the_previous_or_the_new_file(
    tmp_path, suffix, new_showers
):
    """A killed ``save(overwrite=True)`` leaves the previous file or the new one.

    Zarr: or nothing at the path (killed between the renames that swap the
    stores); unless the new store is complete, ``resume=True`` completes it
    to exactly the showers of an uninterrupted run.
    """
    seconds = write_time(tmp_path, suffix, new_showers)
    old = toy_showers(NUM_SHOWERS - 100, max_points=MAX_POINTS, seed=OLD_SEED)
    old = old.compute()
    pristine = tmp_path / f"pristine{suffix}"
    showerdata.save(old, pristine)
    assert_showers_equal(showerdata.load(pristine).compute(), old)
    old_digest = digest(pristine)  # a target with these bytes reads as `old`
    target = tmp_path / f"production{suffix}"
    outcomes, mid_write, resumed = [], 0, []
    for delay in delays(7, seconds):
        if not target.exists() or digest(target) != old_digest:
            if target.exists():
                remove(target)
            copy(pristine, target)
        run = run_writer("save", target, kill_after=delay)
        mid_write += not run.finished
        if suffix == ".zarr" and not target.exists():
            assert not run.finished
            outcomes.append("absent")
        else:
            assert target.exists(), "overwrite lost the previous file"
            if digest(target) == old_digest:
                outcomes.append("previous")
            else:
                assert_showers_equal(showerdata.load(target).compute(), new_showers)
                outcomes.append("new")
        # A kill may also come after the new file is in place, before the
        # writer says "done" (zarr: while the old store is being deleted):
        # "new" without "done" is whole too.
        assert not run.finished or outcomes[-1] == "new"
        if suffix == ".zarr" and outcomes[-1] != "new":
            resumed.append(resume_killed_save(target, new_showers))
    expected = {pristine.name, target.name}
    leftovers = [p for p in tmp_path.iterdir() if p.name not in expected]
    check_killed_saves(
        "save(overwrite=True) killed", suffix, outcomes, mid_write, resumed, leftovers
    )
    check_later_save_works(tmp_path, suffix, new_showers)


@pytest.mark.parametrize("suffix", FORMATS)
def test_save_to_a_fresh_path_killed_leaves_nothing_or_the_new_file(
    tmp_path, suffix, new_showers
):
    """A killed ``save`` to a new path leaves nothing there, or the whole file.

    Zarr: ``resume=True`` then completes the save to exactly the new showers.
    """
    seconds = write_time(tmp_path, suffix, new_showers)
    outcomes, mid_write, resumed = [], 0, []
    for trial, delay in enumerate(delays(8, seconds)):
        target = tmp_path / f"fresh-{trial}{suffix}"
        run = run_writer("save", target, kill_after=delay)
        mid_write += not run.finished
        if target.exists():
            assert_showers_equal(showerdata.load(target).compute(), new_showers)
            outcomes.append("new")
            remove(target)  # keep the disk use of the test down
        else:
            assert not run.finished
            outcomes.append("absent")
            # Readers see no shower file at the path, not a partial one.
            with pytest.raises(FileNotFoundError):
                showerdata.load(target)
            if suffix == ".zarr":
                resumed.append(resume_killed_save(target, new_showers))
                remove(target)
    leftovers = list(tmp_path.iterdir())
    check_killed_saves(
        "save(fresh path) killed", suffix, outcomes, mid_write, resumed, leftovers
    )
    check_later_save_works(tmp_path, suffix, new_showers)


def check_killed_saves(
    name: str,
    suffix: str,
    outcomes: list[str],
    mid_write: int,
    resumed: list[int],
    leftovers: list[Path],
) -> None:
    """What every series of killed saves must show once its trials are done.

    What is left beside the target are hidden temporary files, never the
    target. ``resumed`` holds the chunks each resumed zarr save found complete.
    """
    report(name, outcomes, len(leftovers))
    # Where the kills land depends on the machine's load: reported, not asserted
    # (the failpoint tests kill at every point for sure).
    print(f"kills that landed mid-write: {mid_write} of {TRIALS}")
    if suffix == ".zarr":
        print(f"chunks the resumed saves found complete: {resumed}")
    assert all(p.name.startswith(".") for p in leftovers), leftovers


def batch_template(directory: Path, suffix: str) -> tuple[Path, Showers]:
    """A file with rows written before and after the batch's rows."""
    outside = toy_showers(2 * MARGIN, max_points=MAX_POINTS, seed=OUTSIDE_SEED)
    outside = outside.compute()
    path = directory / f"template{suffix}"
    # Zarr: chunks of CHUNK rows, so the batch's first and last chunks are
    # shared with rows outside it (rewritten under a lock, never torn).
    with dask.config.set({CHUNK_BYTES_KEY: CHUNK * MAX_POINTS * 5 * 4}):
        shape = (NUM_SHOWERS + 2 * MARGIN, MAX_POINTS, 5)
        showerdata.create_empty_file(path, shape)
    showerdata.save_batch(outside[:MARGIN], path, 0)
    showerdata.save_batch(outside[MARGIN:], path, MARGIN + NUM_SHOWERS)
    return path, outside


def same_rows(actual: Showers, expected: Showers) -> np.ndarray:
    """Per shower: whether every field is bit-identical."""
    same = np.ones(len(actual), dtype=bool)
    for name in Showers.FIELDS:
        a, e = np.asarray(getattr(actual, name)), np.asarray(getattr(expected, name))
        a, e = (
            a.view(np.uint8).reshape(len(a), -1),
            e.view(np.uint8).reshape(len(e), -1),
        )
        same &= (a == e).all(axis=1)
    return same


def classify_batch_rows(path: Path, new: Showers, untouched: Showers) -> list[str]:
    """'new', 'untouched' or 'unreadable' for every row of the batch; else fail.

    Rows are read a chunk at a time, and one by one in chunks that fail to read.
    """
    kinds = []
    if path.suffix == ".zarr":  # a store chunk at a time: a torn one fails alone
        length = zarr.open_array(path / "showers", mode="r").chunks[0]
        edges = range(length - MARGIN % length, NUM_SHOWERS, length)
    else:
        edges = range(CHUNK, NUM_SHOWERS, CHUNK)
    bounds = [0, *edges, NUM_SHOWERS]
    with ShowerDataFile(path) as file:

        def read(first: int, last: int) -> Showers | None:
            try:
                return file[MARGIN + first : MARGIN + last]
            except ShowerDataError:  # rows HDF5 cannot read are named, too
                return None

        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            piece = read(start, stop)
            pieces = (
                [(start, stop, piece)]
                if piece is not None
                else [(i, i + 1, read(i, i + 1)) for i in range(start, stop)]
            )
            for first, last, rows in pieces:
                if rows is None:
                    kinds.append("unreadable")
                    continue
                is_new = same_rows(rows, new[first:last])
                is_untouched = same_rows(rows, untouched[np.zeros(last - first, int)])
                other = np.flatnonzero(~(is_new | is_untouched))
                if len(other):
                    pytest.fail(f"row {MARGIN + first + other[0]} holds other data")
                kinds += ["new" if k else "untouched" for k in is_new]
    return kinds


@pytest.mark.parametrize("suffix", FORMATS)
def test_save_batch_killed_keeps_the_file_and_the_rows_outside(
    tmp_path, suffix, new_showers
):
    """A killed ``save_batch`` keeps the layout and every row outside the batch.

    Rows inside the batch are new, untouched, or an error when read. Zarr: the
    killed batch is rerun, and the store then holds exactly the new showers.
    """
    template, outside = batch_template(tmp_path, suffix)
    untouched = ShowerDataFile(template)[MARGIN]
    assert untouched.num_points[0] == 0
    target = tmp_path / f"batched{suffix}"
    copy(template, target)
    seconds = run_writer("save_batch", target, MARGIN).seconds
    assert seconds is not None
    full = showerdata.load(target).compute()
    assert_showers_equal(full[MARGIN:-MARGIN], new_showers)
    counts = []
    for delay in delays(9, seconds):
        remove(target)
        copy(template, target)
        run = run_writer("save_batch", target, MARGIN, kill_after=delay)
        # The file opens and says what it is.
        assert showerdata.get_file_shape(target) == (
            NUM_SHOWERS + 2 * MARGIN,
            MAX_POINTS,
            5,
        )
        assert "showerdata_version" in showerdata.load_metadata(target)
        # Rows outside the batch are exactly what they were.
        before = showerdata.load(target, 0, MARGIN).compute()
        after = showerdata.load(target, MARGIN + NUM_SHOWERS).compute()
        assert_showers_equal(before, outside[:MARGIN])
        assert_showers_equal(after, outside[MARGIN:])
        kinds = classify_batch_rows(target, new_showers, untouched)
        if run.finished:
            assert set(kinds) == {"new"}
        counts.append((run.finished, {k: kinds.count(k) for k in set(kinds)}))
        if suffix == ".zarr":
            showerdata.save_batch(new_showers, target, MARGIN)  # the rerun
            rerun = showerdata.load(target).compute()
            assert_showers_equal(rerun[MARGIN:-MARGIN], new_showers)
            assert_showers_equal(rerun[:MARGIN], outside[:MARGIN])
            assert_showers_equal(rerun[-MARGIN:], outside[MARGIN:])
    print("\nsave_batch killed (finished?, rows of the batch):")
    for finished, kinds in counts:
        print(f"  {'finished' if finished else 'killed  '} {kinds}")


# -- deterministic: the writer kills itself at a failpoint ----------------------------

#: Where a save is killed, per format: after the first, a middle and the last
#: chunk, before the chunk record is set, before the store is marked complete,
#: before the rename into place and between the exchange and the removal of
#: the previous store (only when there is one).
SAVE_FAILPOINTS = {
    ".h5": [
        "hdf5.after-chunk=1",
        f"hdf5.after-chunk={CHUNKS // 2}",
        f"hdf5.after-chunk={CHUNKS}",
        "hdf5.before-rename=1",
    ],
    ".zarr": [
        "zarr.after-shard=1",
        f"zarr.before-record={CHUNKS // 2}",
        f"zarr.after-shard={CHUNKS // 2}",
        f"zarr.after-shard={CHUNKS}",
        "zarr.before-complete=1",
        "zarr.before-rename=1",
        "replace.after-exchange=1",
    ],
}
SAVE_CASES = [
    (suffix, point, over_previous)
    for suffix, points in SAVE_FAILPOINTS.items()
    for point in points
    for over_previous in (False, True)
    if over_previous or not point.startswith("replace.")
]


def chunks_complete_at(point: str) -> int | None:
    """Chunks a killed zarr save has recorded complete (None: not resumable)."""
    name, _, count = point.partition("=")
    if name == "zarr.after-shard":
        return int(count)
    if name == "zarr.before-record":
        return int(count) - 1  # the k-th shard is written, not recorded
    if name == "zarr.before-complete":
        return CHUNKS
    return None  # complete, so started afresh by resume=True


@pytest.mark.parametrize(
    ("suffix", "point", "over_previous"),
    SAVE_CASES,
    ids=[f"{s}-{p}-{'over previous' if o else 'fresh'}" for s, p, o in SAVE_CASES],
)
def test_save_killed_at_a_failpoint_keeps_the_old_or_gives_the_new(
    tmp_path, suffix, point, over_previous, new_showers
):
    """Killed at each point, ``save`` leaves the previous file or none; never part.

    Only a kill after the new store took the previous one's place leaves the
    new one. Zarr: ``resume=True`` completes the save to exactly the new
    showers, keeping every chunk the killed save recorded complete.
    """
    target = tmp_path / f"production{suffix}"
    previous = None
    if over_previous:
        showerdata.save(new_showers[:100], target)
        previous = digest(target)
    run = run_writer("save", target, failpoint=f"{point}:kill")
    assert not run.finished
    if point.startswith("replace."):
        assert_showers_equal(showerdata.load(target).compute(), new_showers)
    elif over_previous:
        assert digest(target) == previous, "the previous file changed"
    else:
        assert not target.exists()
        with pytest.raises(FileNotFoundError):
            showerdata.load(target)
    leftovers = [p.name for p in tmp_path.iterdir() if p != target]
    assert all(name.startswith(".") for name in leftovers), leftovers
    if suffix == ".zarr":
        kept = resume_killed_save(target, new_showers)
        expected = chunks_complete_at(point)
        if expected is not None:
            assert kept == expected
    check_later_save_works(tmp_path, suffix, new_showers)


def test_a_zarr_save_killed_while_recording_a_chunk_resumes(tmp_path, new_showers):
    """A record entry left empty by a kill marks its chunk as not written.

    zarr writes an entry of the chunk record in place, so a kill while it is
    written can leave the entry's file empty (found by the random kills on
    zarr 3.1.0: the resumed save failed to read the record). Made here by
    emptying the last recorded entry of a save killed after a middle chunk.
    """
    target = tmp_path / "production.zarr"
    run_writer("save", target, failpoint=f"zarr.after-shard={CHUNKS // 2}:kill")
    entries = tmp_path / f".{target.name}.partial" / CHUNKS_WRITTEN / "c"
    last = max(entries.iterdir(), key=lambda entry: int(entry.name))
    last.write_bytes(b"")
    assert resume_killed_save(target, new_showers) == CHUNKS // 2 - 1


@pytest.mark.parametrize("dataset", ["showers", "energies", "num_points"])
def test_a_zarr_save_killed_while_writing_a_shard_resumes(
    tmp_path, new_showers, dataset
):
    """A chunk file a kill cut short, and not recorded, is written afresh.

    zarr 3.1 writes a local chunk file in place, and rewrites a shard by
    reading it first even when every row is new; so a shard torn by a kill
    made the resumed save fail with "Stored and computed checksum do not
    match" (found by the random kills on zarr 3.1.0). Made here by cutting
    short the files of the first unrecorded chunk of a save killed after a
    middle chunk: the sharded points, and the plain chunks of the per-shower
    arrays.
    """
    target = tmp_path / "production.zarr"
    run_writer("save", target, failpoint=f"zarr.after-shard={CHUNKS // 2}:kill")
    array = tmp_path / f".{target.name}.partial" / dataset / "c"
    complete = sorted(path for path in array.rglob("*") if path.is_file())[0]
    torn = array.joinpath(str(CHUNKS // 2), *complete.relative_to(array).parts[1:])
    assert not torn.exists(), "the killed save wrote past the recorded chunks"
    torn.parent.mkdir(parents=True, exist_ok=True)
    torn.write_bytes(complete.read_bytes()[: complete.stat().st_size // 2])
    assert resume_killed_save(target, new_showers) == CHUNKS // 2


def test_save_batch_rewrites_a_shard_a_kill_cut_short(tmp_path, new_showers):
    """A rerun ``save_batch`` writes a torn shard inside its rows afresh.

    zarr 3.1 writes a local shard in place, so a killed ``save_batch`` can
    leave one cut short; zarr reads a shard before rewriting it, and the rerun
    failed on its checksum. Made here by cutting short a shard the batch
    covers whole (shards hold CHUNK rows; the batch starts at MARGIN).
    """
    template, outside = batch_template(tmp_path, ".zarr")
    shards = template / "showers" / "c"
    written = sorted(path for path in shards.rglob("*") if path.is_file())[0]
    inside = MARGIN // CHUNK + 1
    torn = shards.joinpath(str(inside), *written.relative_to(shards).parts[1:])
    assert not torn.exists()
    torn.parent.mkdir(parents=True, exist_ok=True)
    torn.write_bytes(written.read_bytes()[: written.stat().st_size // 2])
    showerdata.save_batch(new_showers, template, MARGIN)
    full = showerdata.load(template).compute()
    assert_showers_equal(full[MARGIN:-MARGIN], new_showers)
    assert_showers_equal(full[:MARGIN], outside[:MARGIN])
    assert_showers_equal(full[-MARGIN:], outside[MARGIN:])


#: Where a save_batch is killed: after the first and a middle chunk (HDF5:
#: before that chunk is flushed), and between a shard and its record (zarr).
BATCH_FAILPOINTS = [
    (".h5", "hdf5.after-chunk=1"),
    (".h5", f"hdf5.after-chunk={CHUNKS // 2}"),
    (".zarr", "zarr.after-shard=1"),
    (".zarr", f"zarr.before-record={CHUNKS // 2}"),
]


@pytest.mark.parametrize(("suffix", "point"), BATCH_FAILPOINTS)
def test_save_batch_killed_at_a_failpoint_can_be_rerun(
    tmp_path, suffix, point, new_showers
):
    """A ``save_batch`` killed at chunk k keeps the rows outside the batch and
    the chunks before k; rerunning it gives exactly the new rows.

    HDF5 writes blocks in order and flushes each: the k - 1 before the kill are
    new; the k-th, unflushed, may be new, untouched or unreadable. Zarr writes
    a shard whole: the batch's rows of k shards are new (in whatever order
    the one thread took them), those of the others untouched.
    """
    template, outside = batch_template(tmp_path, suffix)
    untouched = ShowerDataFile(template)[MARGIN]
    target = tmp_path / f"batched{suffix}"
    copy(template, target)
    run_writer("save_batch", target, MARGIN, failpoint=f"{point}:kill")
    assert showerdata.get_file_shape(target) == (
        NUM_SHOWERS + 2 * MARGIN,
        MAX_POINTS,
        5,
    )
    assert_showers_equal(showerdata.load(target, 0, MARGIN).compute(), outside[:MARGIN])
    after = showerdata.load(target, MARGIN + NUM_SHOWERS).compute()
    assert_showers_equal(after, outside[MARGIN:])
    kinds = classify_batch_rows(target, new_showers, untouched)
    k = int(point.partition("=")[2])
    if suffix == ".h5":
        assert set(kinds[: (k - 1) * CHUNK]) <= {"new"}
    else:
        # The batch's rows in each shard of the store: each is new or untouched
        # as a whole, and k of them are new.
        shard = zarr.open_array(target / "showers", mode="r").shards[0]
        inside = range(MARGIN + 1, MARGIN + NUM_SHOWERS)
        edges = [0, *(e - MARGIN for e in inside if e % shard == 0), NUM_SHOWERS]
        blocks = [set(kinds[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        assert all(len(kind) == 1 for kind in blocks), "a shard written in part"
        assert blocks.count({"new"}) == k and "unreadable" not in kinds
    showerdata.save_batch(new_showers, target, MARGIN)  # the rerun
    full = showerdata.load(target).compute()
    assert_showers_equal(full[MARGIN:-MARGIN], new_showers)
    assert_showers_equal(full[:MARGIN], outside[:MARGIN])
    assert_showers_equal(full[-MARGIN:], outside[MARGIN:])


@pytest.mark.parametrize(
    ("suffix", "point"),
    [(".h5", "hdf5.after-chunk=5"), (".zarr", "zarr.after-shard=5")],
)
def test_interrupted_save_cleans_up_after_itself(tmp_path, suffix, point, new_showers):
    """Ctrl-C during ``save`` keeps the previous file and leaves no debris.

    SIGINT raises KeyboardInterrupt: unlike SIGKILL, the writer can clean up.
    HDF5 removes its temporary file. Zarr keeps its partial store beside the
    destination on purpose, for ``resume=True`` to continue from.
    """
    target = tmp_path / f"production{suffix}"
    showerdata.save(new_showers[:10], target)
    old_digest = digest(target)
    run_writer("save", target, failpoint=f"{point}:sigint")
    assert digest(target) == old_digest
    left = {p.name for p in tmp_path.iterdir()}
    if suffix == ".zarr":
        assert left == {target.name, f".{target.name}.partial"}
        assert resume_killed_save(target, new_showers) == 5
    else:
        assert left == {target.name}


# -- conversion -----------------------------------------------------------------------

#: Directions of the conversion trials: (source, destination) suffixes.
CONVERSIONS = [(".h5", ".zarr"), (".zarr", ".h5")]
TARGET_POINTS = 50  # points per row of the target the sources carry


@pytest.fixture(scope="module")
def conversion_sources(tmp_path_factory, new_showers) -> dict[str, Path]:
    """The new production with a target, observables and metadata, in both formats.

    Everything ``convert`` copies is there, so a kill can land in any of its
    steps: showers, target, observables, attributes, the final rename.
    """
    directory = tmp_path_factory.mktemp("conversion")
    source = directory / "source.h5"
    lazy = new_showers.chunk(CHUNK)
    showerdata.save(lazy, source)
    target_counts = np.minimum(new_showers.num_points, TARGET_POINTS)
    target = lazy.points[:, :TARGET_POINTS, :4]
    showerdata.save_target(target, source, target_counts)
    showerdata.observables.add_observables_to_file(source)
    showerdata.add_metadata(source, {"production": "crash trial", "seed": NEW_SEED})
    mirror = directory / "source.zarr"
    with dask.config.set({CHUNK_BYTES_KEY: CHUNK * MAX_POINTS * 5 * 4}):
        showerdata.convert(source, mirror)
    return {".h5": source, ".zarr": mirror}


def contents(path: Path) -> dict[str, Any]:
    """What ``convert`` copies, read back: showers, target, observables, attributes."""
    showers = showerdata.load(path).compute()
    found: dict[str, Any] = {n: getattr(showers, n) for n in Showers.FIELDS}
    points, counts = dask.compute(*showerdata.load_target(path))
    found |= {"target/point_clouds": points, "target/num_points": counts}
    observables = showerdata.observables.read_observables_from_file(path)
    found |= {f"observables/{key}": values for key, values in observables.items()}
    found["attributes"] = showerdata.load_metadata(path)
    return found


def assert_same_contents(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal keys, attributes, and arrays equal bit for bit (dtype and shape too)."""
    assert sorted(actual) == sorted(expected)
    for name, values in expected.items():
        if name == "attributes":
            assert actual[name] == values
            continue
        got = np.asarray(actual[name])
        assert got.dtype == values.dtype and got.shape == values.shape, name
        assert got.tobytes() == np.asarray(values).tobytes(), name


@pytest.mark.parametrize(("source_suffix", "suffix"), CONVERSIONS)
def test_convert_killed_leaves_nothing_the_previous_or_the_whole_copy(
    tmp_path, source_suffix, suffix, conversion_sources, new_showers
):
    """A killed ``convert`` never leaves a partial destination at its path.

    Half the trials convert to a fresh path, half over a previous file
    (``overwrite=True``). After each kill the destination is absent (fresh
    path, or zarr's two-rename swap), the previous file unchanged, or a copy
    equal to an uninterrupted conversion, itself equal to the source. After
    all trials, converting again gives the same copy: leftovers of killed
    conversions are hidden files that do not get in the way.
    """
    source = conversion_sources[source_suffix]
    reference = tmp_path / f"reference{suffix}"
    seconds = run_writer("convert", reference, source=source).seconds
    assert seconds is not None
    expected = contents(reference)
    assert_same_contents(contents(source), expected)
    remove(reference)
    previous = tmp_path / f"previous{suffix}"
    showerdata.save(new_showers[:100], previous)
    previous_digest = digest(previous)
    outcomes, mid_write = [], 0
    for trial, delay in enumerate(
        delays(10 + CONVERSIONS.index((source_suffix, suffix)), seconds)
    ):
        destination = tmp_path / f"copy-{trial}{suffix}"
        over_previous = trial % 2 == 1
        if over_previous:
            copy(previous, destination)
        run = run_writer("convert", destination, kill_after=delay, source=source)
        mid_write += not run.finished
        if not destination.exists():
            assert not run.finished
            assert not over_previous or suffix == ".zarr", "lost the previous file"
            outcomes.append("absent")
        elif over_previous and digest(destination) == previous_digest:
            assert not run.finished
            outcomes.append("previous")
        else:
            assert_same_contents(contents(destination), expected)
            outcomes.append("new")
        if destination.exists():
            remove(destination)  # keep the disk use of the test down
    leftovers = [p for p in tmp_path.iterdir() if p.name != previous.name]
    report(f"convert {source_suffix} -> {suffix} killed", outcomes, len(leftovers))
    print(f"kills that landed mid-write: {mid_write} of {TRIALS}")
    assert all(p.name.startswith(".") for p in leftovers), leftovers
    showerdata.convert(source, previous, overwrite=True)  # the rerun
    assert_same_contents(contents(previous), expected)
    for leftover in leftovers:
        remove(leftover)  # the disk use again


#: Where a conversion is killed, per destination format: mid-way through the
#: showers, once they are complete under the working name, once everything is,
#: and (over a previous store) between the exchange and the removal.
CONVERT_FAILPOINTS = {
    ".zarr": [
        f"zarr.after-shard={CHUNKS // 3}",
        "zarr.before-rename=1",
        "convert.before-rename=1",
        "replace.after-exchange=1",
    ],
    ".h5": [
        f"hdf5.after-chunk={CHUNKS // 3}",
        "hdf5.before-rename=1",
        "convert.before-rename=1",
    ],
}
CONVERT_CASES = [
    (source, suffix, point, over_previous)
    for source, suffix in CONVERSIONS
    for point in CONVERT_FAILPOINTS[suffix]
    for over_previous in (False, True)
    if over_previous or not point.startswith("replace.")
]


@pytest.mark.parametrize(
    ("source_suffix", "suffix", "point", "over_previous"),
    CONVERT_CASES,
    ids=[
        f"{s}->{d}-{p}-{'over previous' if o else 'fresh'}"
        for s, d, p, o in CONVERT_CASES
    ],
)
def test_convert_killed_at_a_failpoint_leaves_no_partial_copy(
    tmp_path, source_suffix, suffix, point, over_previous, conversion_sources
):
    """Killed at each point, ``convert`` leaves no destination or the previous one.

    Only a kill after the copy took the previous store's place leaves the
    copy, whole. Converting again then gives the whole copy.
    """
    source = conversion_sources[source_suffix]
    reference = tmp_path / "reference" / f"copy{suffix}"
    reference.parent.mkdir()
    showerdata.convert(source, reference)
    expected = contents(reference)
    work = tmp_path / "work"
    work.mkdir()
    destination = work / f"copy{suffix}"
    previous = None
    if over_previous:
        showerdata.save(showerdata.load(source, 0, 100), destination)
        previous = digest(destination)
    run_writer("convert", destination, source=source, failpoint=f"{point}:kill")
    if point.startswith("replace."):
        assert_same_contents(contents(destination), expected)
    elif over_previous:
        assert digest(destination) == previous, "the previous file changed"
    else:
        assert not destination.exists()
    leftovers = [p.name for p in work.iterdir() if p != destination]
    assert all(name.startswith(".") for name in leftovers), leftovers
    showerdata.convert(source, destination, overwrite=True)  # the rerun
    assert_same_contents(contents(destination), expected)
