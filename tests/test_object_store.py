"""zarr stores in an S3 object store: a real S3 API server (moto) on loopback.

Endpoint and credentials reach s3fs through the usual ``AWS_*`` environment
variables, as they would on a computing centre's cluster.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import dask
import numpy as np
import pytest
import s3fs
import zarr
from conftest import assert_showers_equal
from moto.server import ThreadedMotoServer

import showerdata
from showerdata import ShowerDataError
from showerdata.failpoints import ENVIRONMENT_VARIABLE as FAILPOINTS
from showerdata.toy import toy_arrays

BUCKET = "production"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """An S3 server on 127.0.0.1 with an empty bucket; yields an s3fs filesystem."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    settings = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    filesystem = s3fs.S3FileSystem(skip_instance_cache=True)
    filesystem.mkdir(BUCKET)
    yield filesystem
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


def url(name: str) -> str:
    return f"s3://{BUCKET}/{name}"


def test_round_trip_in_memory_and_lazy(s3, make_showers):
    showers = make_showers(n=45, max_points=30)
    showerdata.save(showers, url("memory.zarr"))
    showerdata.save(showers.chunk(10), url("lazy.zarr"))
    for name in ("memory.zarr", "lazy.zarr"):
        lazy = showerdata.load(url(name))
        assert lazy.is_lazy
        assert_showers_equal(lazy.compute(), showers)
        assert_showers_equal(lazy[17].compute(), showers[17])
    assert showerdata.get_file_shape(url("lazy.zarr")) == (45, 30, 5)
    assert s3.exists(f"{BUCKET}/lazy.zarr/showers/zarr.json")


def test_an_existing_store_is_kept_without_overwrite(s3, make_showers):
    first, second = make_showers(n=12, seed=1), make_showers(n=7, seed=2)
    showerdata.save(first, url("kept.zarr"))
    with pytest.raises(FileExistsError, match="already exists"):
        showerdata.save(second, url("kept.zarr"))
    assert_showers_equal(showerdata.load(url("kept.zarr")).compute(), first)
    showerdata.save(second, url("kept.zarr"), overwrite=True)
    assert_showers_equal(showerdata.load(url("kept.zarr")).compute(), second)


def _interrupt_at(block: np.ndarray, block_info=None) -> np.ndarray:
    if block_info[0]["chunk-location"][0] == 2:
        raise KeyboardInterrupt
    return block


def test_an_interrupted_save_is_refused_then_resumed(s3, make_showers):
    showers = make_showers(n=50, max_points=20)
    lazy = showers.chunk(10)
    interrupted = lazy.copy()
    interrupted.energies = lazy.energies.map_blocks(_interrupt_at, dtype=np.float32)
    with pytest.raises(KeyboardInterrupt), dask.config.set(scheduler="sync"):
        showerdata.save(interrupted, url("half.zarr"))
    with pytest.raises(ShowerDataError, match="resume=True") as error:
        showerdata.load(url("half.zarr"))
    assert url("half.zarr") in str(error.value)
    showerdata.save(lazy, url("half.zarr"), resume=True)
    assert_showers_equal(showerdata.load(url("half.zarr")).compute(), showers)


KILLED_SAVE = """
import sys
import dask
import showerdata
from showerdata.toy import toy_arrays

showers = showerdata.Showers(**toy_arrays(0, 60, seed=5, max_points=20))
with dask.config.set(scheduler="sync"):
    showerdata.save(showers.chunk(6), sys.argv[1])
"""


@pytest.mark.parametrize(
    ("failpoint", "recorded"),
    [
        ("zarr.after-shard=2", 2),
        ("zarr.before-record=4", 3),
        ("zarr.before-complete=1", 10),
    ],
)
def test_a_killed_save_is_refused_and_can_be_resumed(s3, failpoint, recorded):
    """A save killed at a failpoint (the store is built in place: no rename)."""
    name = f"killed-{failpoint.replace('=', '-')}.zarr"
    environment = {**os.environ, FAILPOINTS: f"{failpoint}:kill"}
    writer = subprocess.run(
        [sys.executable, "-c", KILLED_SAVE, url(name)], env=environment, timeout=120
    )
    assert writer.returncode == -signal.SIGKILL
    record = f"{BUCKET}/{name}/chunks_written/c"
    assert len(s3.ls(record, refresh=True)) == recorded
    with pytest.raises(ShowerDataError, match="resume=True"):
        showerdata.load(url(name))
    showers = showerdata.Showers(**toy_arrays(0, 60, seed=5, max_points=20))
    showerdata.save(showers.chunk(6), url(name), resume=True)
    assert_showers_equal(showerdata.load(url(name)).compute(), showers)


def test_a_missing_bucket_is_named(s3):
    with pytest.raises(FileNotFoundError, match="s3://no-such-bucket/x.zarr"):
        showerdata.load("s3://no-such-bucket/x.zarr")


def test_the_command_line_reads_a_store_and_names_a_missing_one(s3, make_showers):
    showerdata.save(make_showers(n=9), url("cli.zarr"))
    command = [sys.executable, "-m", "showerdata", "info", url("cli.zarr")]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "9" in done.stdout
    missing = [sys.executable, "-m", "showerdata", "info", url("none.zarr")]
    done = subprocess.run(missing, capture_output=True, text=True)
    assert done.returncode != 0
    assert url("none.zarr") in done.stderr and "Traceback" not in done.stderr


def test_a_target_or_observables_for_an_object_store_are_refused_up_front(
    s3, make_showers
):
    showers = make_showers(n=11, max_points=12)
    showerdata.save(showers, url("target.zarr"))
    before = sorted(s3.find(f"{BUCKET}/target.zarr"))
    latent = np.random.default_rng(4).random((11, 12, 3), dtype=np.float32)
    # The counts are taken from the store; the move into place needs a rename.
    refusal = r"s3://production/target\.zarr'.*dataset 'target'.*needs a local store"
    with pytest.raises(ShowerDataError, match=refusal):
        showerdata.save_target(latent, url("target.zarr"))
    with pytest.raises(ShowerDataError, match="needs a local store"):
        showerdata.observables.add_observables_to_file(url("target.zarr"))
    assert sorted(s3.find(f"{BUCKET}/target.zarr")) == before
    assert_showers_equal(showerdata.load(url("target.zarr")).compute(), showers)


def test_storage_options_and_store_objects_reach_the_same_store(
    s3, make_showers, monkeypatch
):
    showers = make_showers(n=21, max_points=15)
    options = {
        "key": os.environ["AWS_ACCESS_KEY_ID"],
        "secret": os.environ["AWS_SECRET_ACCESS_KEY"],
        "client_kwargs": {"endpoint_url": os.environ["AWS_ENDPOINT_URL"]},
    }
    # The options are the only way to the server: no environment to fall back
    # on, no filesystem cached from an earlier test.
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(variable)
    s3fs.S3FileSystem.clear_instance_cache()
    showerdata.save(showers.chunk(8), url("options.zarr"), storage_options=options)
    lazy = showerdata.load(url("options.zarr"), storage_options=options)
    assert_showers_equal(lazy.compute(), showers)
    store = zarr.storage.FsspecStore.from_url(
        url("options.zarr"), storage_options=options
    )
    assert_showers_equal(showerdata.load(store)[3:9].compute(), showers[3:9])
    with pytest.raises(ValueError, match="storage_options apply to URLs"):
        showerdata.load("local.zarr", storage_options=options)


def test_a_local_store_object_reads_and_writes(tmp_path, make_showers):
    showers = make_showers(n=13)
    store = zarr.storage.LocalStore(tmp_path / "object.zarr")
    showerdata.save(showers.chunk(5), store)
    assert_showers_equal(showerdata.load(store).compute(), showers)
    assert_showers_equal(showerdata.load(tmp_path / "object.zarr").compute(), showers)
