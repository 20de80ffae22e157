"""Everything under dask.distributed: a LocalCluster and a command-line cluster.

Each job (load from HDF5 and zarr, filter, cluster with a seed, save to zarr
and to HDF5) must give outputs identical to the local threaded scheduler --
also when a worker process is killed in the middle of the job.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import dask
import psutil
import pytest
from conftest import assert_showers_equal
from distributed import Client, LocalCluster

import showerdata
from showerdata.detector import get_ILD_geometry
from showerdata.io.files import open_locations
from showerdata.toy import toy_showers

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> dict[str, Path]:
    """The same toy production as HDF5 and zarr, in several chunks."""
    directory = tmp_path_factory.mktemp("production")
    showers = toy_showers(600, seed=3, max_points=200, chunks=100)
    paths = {"h5": directory / "toy.h5", "zarr": directory / "toy.zarr"}
    with dask.config.set(scheduler="threads"):
        showerdata.save(showers, paths["h5"])
        showerdata.save(showers, paths["zarr"])
    return paths


def run_job(source: Path, output: Path) -> None:
    """load -> filter -> cluster (seeded) -> save, on whatever scheduler is active."""
    showers = showerdata.load(source, chunks=150)
    geometry = get_ILD_geometry()
    showers = showerdata.filter_showers(
        showers,
        ecal_threshold=geometry.ecal_threshold / 1e3,
        hcal_threshold=geometry.hcal_threshold / 1e3,
        num_layers_ecal=geometry.num_layers_ecal,
    )
    showers = showerdata.cluster(showers, detector_config=geometry, seed=11)
    showerdata.save(showers, output)


@pytest.fixture(scope="module")
def reference(production, tmp_path_factory) -> dict[str, showerdata.Showers]:
    """Outputs of the job on the local threaded scheduler."""
    directory = tmp_path_factory.mktemp("reference")
    outputs = {}
    with dask.config.set(scheduler="threads"):
        for kind, source in production.items():
            run_job(source, directory / f"out.{kind}")
            outputs[kind] = showerdata.load(directory / f"out.{kind}").compute()
    assert_showers_equal(outputs["h5"], outputs["zarr"])
    return outputs


def check_job_on_client(
    client: Client, production: dict[str, Path], reference, directory: Path
) -> None:
    for kind, source in production.items():
        for suffix in ("zarr", "h5"):
            output = directory / f"{kind}-out.{suffix}"
            run_job(source, output)
            # Also read back on the cluster: workers open the files themselves.
            computed = showerdata.load(output).compute()
            assert_showers_equal(computed, reference[kind])
    # The workers read the sources themselves (their own handle caches).
    opened = client.run(open_locations)
    assert len(opened) == 2
    read_by_workers = set().union(*opened.values())
    assert {str(p.resolve()) for p in production.values()} <= read_by_workers


def two_local_workers() -> LocalCluster:
    """Two process workers of one thread each, on loopback only, no dashboard."""
    return LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    )


def test_local_cluster_of_processes_gives_identical_outputs(
    production, reference, tmp_path
):
    with (
        two_local_workers() as cluster,
        Client(cluster) as client,
    ):
        pids = set(client.run(os.getpid).values())
        assert os.getpid() not in pids and len(pids) == 2
        check_job_on_client(client, production, reference, tmp_path)
        # A lazy Showers pickles to the cluster: a task on a worker reads a shower.
        lazy = showerdata.load(production["zarr"])
        shower = client.submit(lambda s: s[123].compute(), lazy).result()
        assert_showers_equal(shower, showerdata.load(production["h5"])[123].compute())


def kernels_are_set_up() -> Any:
    """A function telling, on a worker, whether numba ran a kernel of ours there.

    Made here so that it pickles by value: workers cannot import this module.
    """

    def set_up() -> bool:
        from showerdata.kernels.layout import count_real_points

        return bool(count_real_points.signatures)

    return set_up


def test_the_cli_cluster_sets_numba_up_before_the_first_task():
    from showerdata.execution import ExecutionOptions, execution

    with execution(ExecutionOptions(workers=1, progress=False)) as run:
        assert set(run.client.run(kernels_are_set_up()).values()) == {True}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_workers(client: Client, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info()["workers"]) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} workers did not connect in {timeout} s")
        time.sleep(0.2)


def test_command_line_scheduler_and_two_workers(production, reference, tmp_path):
    dask_command = shutil.which("dask", path=os.path.dirname(sys.executable))
    assert dask_command, "the dask command line comes with distributed"
    address = f"tcp://127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    common = {"cwd": tmp_path, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    processes = [
        subprocess.Popen(
            [
                dask_command,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--dashboard-address",
                "127.0.0.1:0",
            ],
            **common,
        )
    ]
    try:
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [
                        dask_command,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                        "--preload",
                        "showerdata.workers",
                    ],
                    **common,
                )
            )
        with Client(address, timeout=60) as client:
            _wait_for_workers(client, 2, timeout=60)
            assert set(client.run(kernels_are_set_up()).values()) == {True}
            check_job_on_client(client, production, reference, tmp_path)
    finally:
        for process in processes[::-1]:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


# -- a worker lost mid-job ------------------------------------------------------------


@pytest.fixture(scope="module")
def long_production(tmp_path_factory) -> tuple[Path, dict[str, showerdata.Showers]]:
    """A production of tens of chunks and the job's outputs on local threads."""
    directory = tmp_path_factory.mktemp("long")
    source = directory / "long.h5"
    with dask.config.set(scheduler="threads"):
        showerdata.save(toy_showers(4000, seed=4, max_points=200, chunks=200), source)
        outputs = {}
        for suffix in ("zarr", "h5"):
            run_job(source, directory / f"reference.{suffix}")
            outputs[suffix] = showerdata.load(directory / f"reference.{suffix}")
            outputs[suffix] = outputs[suffix].compute()
    assert_showers_equal(outputs["zarr"], outputs["h5"])
    return source, outputs


def _tasks_in_memory(dask_scheduler: Any) -> int:
    """On the scheduler: how many tasks have finished and hold a result."""
    return sum(task.state == "memory" for task in dask_scheduler.tasks.values())


def run_job_killing_a_worker(client: Client, source: Path, output: Path) -> int:
    """Run the job in a thread and SIGKILL a worker that is busy with it.

    Waits until the job has results and a worker is processing one of its
    tasks, kills that worker's process, and waits for the job to finish
    (the nanny starts a new worker, the scheduler reruns what was lost).
    Returns the pid of the killed worker.
    """
    pids = client.run(os.getpid)
    failures: list[BaseException] = []

    def job() -> None:
        try:
            run_job(source, output)
        except BaseException as error:  # re-raised in the test's thread
            failures.append(error)

    thread = threading.Thread(target=job, name="job", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while True:
        assert thread.is_alive(), f"the job ended before a kill: {failures}"
        assert time.monotonic() < deadline, "no worker got a task of the job"
        busy = {address: keys for address, keys in client.processing().items() if keys}
        done = client.run_on_scheduler(_tasks_in_memory) if busy else 0
        if done:
            break
        time.sleep(0.005)
    address, keys = next(iter(busy.items()))
    os.kill(pids[address], signal.SIGKILL)
    killed_mid_job = thread.is_alive()
    killed_at = time.monotonic()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the job did not finish after losing a worker"
    print(
        f"\n{output.name}: killed worker {pids[address]} busy with {len(keys)} "
        f"tasks, {done} results held; the job ended "
        f"{time.monotonic() - killed_at:.2f} s later"
    )
    if failures:
        raise failures[0]
    assert killed_mid_job, "the job had finished when the worker was killed"
    return pids[address]


@pytest.mark.timeout(180)
def test_a_worker_killed_mid_job_changes_nothing(long_production, tmp_path):
    """SIGKILL of a busy worker mid-job: outputs identical to a clean local run.

    Both outputs: a zarr store (workers write their chunks) and an HDF5 file
    (the client writes results as they arrive). The killed worker is
    replaced by its nanny before the next job.
    """
    source, reference = long_production
    with (
        two_local_workers() as cluster,
        Client(cluster) as client,
    ):
        for suffix in ("zarr", "h5"):
            output = tmp_path / f"out.{suffix}"
            victim = run_job_killing_a_worker(client, source, output)
            assert_showers_equal(showerdata.load(output).compute(), reference[suffix])
            client.wait_for_workers(2, timeout=60)
            pids = set(client.run(os.getpid).values())
            assert victim not in pids and len(pids) == 2
            assert process_is_gone(victim)


def process_is_gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie not yet reaped counts)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
