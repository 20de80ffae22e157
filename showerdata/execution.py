"""Where the work of a command runs, how it is chunked, and what it cost.

The command line (and scripts) wrap their work in :func:`execution`: it starts
a local process cluster, selects the threaded scheduler with N threads or
connects to a running dask scheduler, for the duration of the block only, and
afterwards reports showers per second and peak memory. Dask does the rest:
every lazy computation inside the block runs on the chosen scheduler.

>>> options = ExecutionOptions(threads=2, chunk_size=1000)
>>> with execution(options) as run:  # doctest: +SKIP
...     showers = run.load("production.h5")  # 1000 showers per chunk
...     showerdata.save(showers, "copy.h5", progress=run.progress)
...     print(run.summary(len(showers)))
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import resource
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dask
from dask.callbacks import Callback
from tqdm.auto import tqdm

from .config import CHUNK_BYTES_KEY

#: How long to try to reach a dask scheduler before giving up, in seconds.
CONNECT_TIMEOUT = 5.0

__all__ = [
    "CONNECT_TIMEOUT",
    "Execution",
    "ExecutionOptions",
    "SchedulerUnreachableError",
    "TaskProgress",
    "execution",
    "peak_memory_mib",
    "peak_children_memory_mib",
]


def peak_memory_mib() -> float:
    """Peak resident memory of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_children_memory_mib() -> float:
    """Largest peak resident memory of this process's finished children, in MiB.

    Local dask workers are child processes: once the cluster is closed, this
    is the peak of the busiest worker.
    """
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


class SchedulerUnreachableError(ConnectionError):
    """No dask scheduler answered at the given address."""


@dataclass(frozen=True)
class ExecutionOptions:
    """How a command runs.

    Parameters
    ----------
    workers : int, optional
        Start a local cluster of this many single-threaded worker processes.
    threads : int, optional
        Use the local threaded scheduler with this many threads.
    scheduler : str, optional
        Address of a running dask scheduler to connect to.
    chunk_size : int, optional
        Showers per chunk of the files read (default: about
        ``showerdata.chunk-bytes`` of padded points).
    seed : int, optional
        Seed of the random steps (shuffle order, cluster grid shifts).
    progress : bool
        Show progress bars.
    """

    workers: int | None = None
    threads: int | None = None
    scheduler: str | None = None
    chunk_size: int | None = None
    seed: int | None = None
    progress: bool = True

    def check(self) -> None:
        """Raise :class:`ValueError` for contradictory or out-of-range options."""
        chosen = [
            flag
            for flag, value in (
                ("--workers", self.workers),
                ("--threads", self.threads),
                ("--scheduler", self.scheduler),
            )
            if value is not None
        ]
        if len(chosen) > 1:
            raise ValueError(f"choose one of {', '.join(chosen)}, not several.")
        for flag, value in (
            ("--workers", self.workers),
            ("--threads", self.threads),
            ("--chunk-size", self.chunk_size),
        ):
            if value is not None and value < 1:
                raise ValueError(f"{flag} must be at least 1, got {value}.")


@dataclass
class Execution:
    """The running context :func:`execution` yields."""

    options: ExecutionOptions
    client: Any = None  # distributed.Client while one is in use
    local_cluster: bool = False
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None  # end of the work, before any cluster shutdown
    closed: bool = False  # the block has exited; a local cluster is gone

    @property
    def progress(self) -> bool:
        """Whether to show progress bars."""
        return self.options.progress

    @property
    def seed(self) -> int | None:
        """Seed of the random steps, if one was given."""
        return self.options.seed

    @property
    def chunk_size(self) -> int | None:
        """Showers per chunk, if one was given."""
        return self.options.chunk_size

    @contextlib.contextmanager
    def chunking(self, max_points: int, num_features: int) -> Iterator[None]:
        """Make library calls that open files themselves use ``chunk_size``.

        Sets ``showerdata.chunk-bytes`` to ``chunk_size`` showers of (P, F)
        padded points for the duration of the block (no-op without a
        chunk size).
        """
        if self.chunk_size is None:
            yield
            return
        budget = self.chunk_size * max(1, max_points) * max(1, num_features) * 4
        with dask.config.set({CHUNK_BYTES_KEY: budget}):
            yield

    @contextlib.contextmanager
    def chunking_for(self, path: str | os.PathLike[str]) -> Iterator[None]:
        """:meth:`chunking` for the showers of the file at ``path``."""
        if self.chunk_size is None:
            yield
            return
        from .io.api import get_file_shape

        _, max_points, num_features = get_file_shape(path)
        with self.chunking(max_points, num_features):
            yield

    def load(self, path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> Any:
        """:func:`showerdata.load` with this execution's chunk size."""
        from .io.api import load

        kwargs.setdefault("chunks", self.chunk_size)
        return load(path, *args, **kwargs)

    def task_progress(self, description: str) -> contextlib.AbstractContextManager:
        """A progress bar over dask tasks, for steps that have none of their own.

        Counts tasks of the local schedulers; with a distributed client the
        work runs elsewhere and no bar is shown.
        """
        if not self.progress or self.client is not None:
            return contextlib.nullcontext()
        return TaskProgress(description)

    def summary(self, num_showers: int, what: str = "done") -> str:
        """One line: showers, time, showers/s and peak memory so far."""
        seconds = (self.finished or time.perf_counter()) - self.started
        rate = num_showers / seconds if seconds > 0 else float("inf")
        line = (
            f"{what}: {num_showers:,} showers in {seconds:.2f} s "
            f"({rate:,.0f} showers/s), peak memory {peak_memory_mib():,.0f} MiB"
        )
        if self.local_cluster and self.closed:
            # The cluster is closed and its workers reaped: their peak is known.
            line += f" (busiest worker {peak_children_memory_mib():,.0f} MiB)"
        return line


class TaskProgress(Callback):
    """A tqdm bar counting the tasks the local dask schedulers finish."""

    def __init__(self, description: str) -> None:
        super().__init__()
        self._description = description
        self._bar: Any = None  # drawn once there is work

    def _start_state(self, dsk: Any, state: dict) -> None:
        # Called once per compute; writers compute a window of chunks at a
        # time, so the total grows as the work goes on.
        tasks = sum(len(state[k]) for k in ("ready", "waiting", "running"))
        if tasks == 0:
            return
        if self._bar is None:
            # Drawn with its first total: a bar of total 0 would read "0tasks".
            self._bar = tqdm(total=tasks, desc=self._description, unit="tasks")
        else:
            self._bar.total += tasks
            self._bar.refresh()

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, id: Any) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def __exit__(self, *args: Any) -> None:
        super().__exit__(*args)
        if self._bar is not None:
            self._bar.close()


def _probe(address: str) -> None:
    """Fail fast, with a clear message, if nothing listens at a TCP address."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme != "tcp":
            return  # tls, ucx, inproc: leave them to distributed
        host, port = parse_host_port(location, default_port=8786)
    except ValueError as error:
        raise SchedulerUnreachableError(
            f"invalid dask scheduler address '{address}': {error}"
        ) from None
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise SchedulerUnreachableError(
            f"cannot reach a dask scheduler at '{address}': {reason}"
        ) from None


def _connect(address: str) -> Any:
    from distributed import Client

    _probe(address)
    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except Exception as error:  # whatever answered, it is not a usable scheduler
        message = str(error) or type(error).__name__
        # The half-built client complains from __del__; it has nothing to say.
        hook, sys.unraisablehook = sys.unraisablehook, lambda _: None
        try:
            gc.collect()
        finally:
            sys.unraisablehook = hook
        raise SchedulerUnreachableError(
            f"cannot connect to a dask scheduler at '{address}': {message}"
        ) from None


def _local_cluster(workers: int) -> tuple[Any, Any]:
    from distributed import Client, LocalCluster

    # Loopback only, no dashboard: a dask scheduler runs whatever task it is
    # sent, so it must not be reachable from the network. (distributed
    # defaults to 127.0.0.1 today; we do not rely on that default.) The
    # scheduler and the workers serve HTTP (health, metrics) even without a
    # dashboard, and older distributed (2024.8) binds that server to every
    # interface unless given an address, so each is given one on loopback.
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        worker_dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
        # Workers import the library and set numba up while the cluster starts,
        # not in the first task of each (0.7 s and 0.2 s here).
        preload=["showerdata.workers"],
    )
    try:
        return cluster, Client(cluster)
    except BaseException:
        cluster.close()
        raise


@contextlib.contextmanager
def execution(options: ExecutionOptions) -> Iterator[Execution]:
    """Run the block on the scheduler ``options`` choose; see the module docs.

    Raises
    ------
    ValueError
        Contradictory or out-of-range options.
    SchedulerUnreachableError
        ``options.scheduler`` does not answer within :data:`CONNECT_TIMEOUT`.
    """
    options.check()
    run = Execution(options)
    try:
        with contextlib.ExitStack() as stack:
            if options.scheduler is not None:
                run.client = _connect(options.scheduler)
                stack.callback(run.client.close)
            elif options.workers is not None:
                cluster, run.client = _local_cluster(options.workers)
                run.local_cluster = True
                stack.callback(cluster.close)
                stack.callback(run.client.close)
            elif options.threads is not None:
                stack.enter_context(
                    dask.config.set(scheduler="threads", num_workers=options.threads)
                )
            # Time the work only, not starting or stopping a cluster.
            run.started = time.perf_counter()
            try:
                yield run
            finally:
                run.finished = time.perf_counter()
    finally:
        run.client = None
        run.closed = True
