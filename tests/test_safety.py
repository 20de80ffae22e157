"""Untrusted files never run code; the local cluster is not reachable from outside.

A shower file is input from whoever wrote it. Reading it could run code only
through a decoder that builds Python objects -- pickle above all, which a zarr
array can ask for through its codecs or an object dtype -- or through a reader
that evaluates text it finds. Each crafted file below carries a payload that
creates a marker file if it ever runs; every reader refuses the file with an
error naming it (or hands the text back untouched), and the marker never
appears. The package itself contains no call that could run file contents
(pickle, marshal, eval, exec, ``allow_pickle``), checked on its syntax tree.

The local cluster that ``--workers N`` starts (:mod:`showerdata.execution`)
listens on the loopback interface only, without a dashboard.
"""

from __future__ import annotations

import ast
import ipaddress
import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import psutil
import pytest
import zarr

import showerdata
from showerdata import ShowerDataError, ShowerDataFile, cli
from showerdata.execution import ExecutionOptions, execution
from showerdata.filter import get_detector_thresholds
from showerdata.io.zarr.store import CHUNKS_WRITTEN
from showerdata.toy import toy_showers

PACKAGE = Path(showerdata.__file__).parent
NUM_SHOWERS = 20


class Payload:
    """Unpickling this creates ``marker``: proof that pickle ran on file bytes."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def pickled(marker: Path) -> bytes:
    # Protocol 0 is ASCII: it also fits into HDF5 strings (no NUL bytes).
    return pickle.dumps(Payload(marker), protocol=0)


def code(marker: Path) -> str:
    """Python source that creates ``marker`` if evaluated."""
    return f"open({str(marker)!r}, 'w').close()"


def test_the_payloads_are_live(tmp_path):
    """The payloads do create the marker when run, so its absence means something."""
    marker = tmp_path / "ran"
    pickle.loads(pickled(marker))
    assert marker.exists()
    marker.unlink()
    eval(code(marker))  # noqa: S307 -- that is the point
    assert marker.exists()


# -- crafted files ---------------------------------------------------------------


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Path]:
    """A small production with observables, as HDF5 and as a zarr store."""
    directory = tmp_path_factory.mktemp("good")
    showers = toy_showers(NUM_SHOWERS, max_points=10, seed=1).compute()
    paths = {"h5": directory / "good.h5", "zarr": directory / "good.zarr"}
    showerdata.save(showers, paths["h5"])
    showerdata.observables.add_observables_to_file(paths["h5"])
    showerdata.convert(paths["h5"], paths["zarr"])
    return paths


def zarr_format_2_with_pickled_objects(store: Path, marker: Path) -> None:
    """The same store as zarr format 2, ``energies`` an object array with pickle."""
    source = zarr.open_group(store, mode="r")
    copy = store.with_name("v2-" + store.name)
    attributes = dict(source.attrs)
    group = zarr.open_group(copy, mode="w", zarr_format=2, attributes=attributes)
    for name, array in source.arrays():
        group.create_array(name, data=array[...], chunks=array.chunks)
    shutil.rmtree(store)
    os.replace(copy, store)
    shutil.rmtree(store / "energies")
    (store / "energies").mkdir()
    metadata = {
        "zarr_format": 2,
        "shape": [NUM_SHOWERS],
        "chunks": [NUM_SHOWERS],
        "dtype": "|O",
        "compressor": None,
        "fill_value": None,
        "filters": [{"id": "pickle"}],
        "order": "C",
        "dimension_separator": ".",
    }
    (store / "energies" / ".zarray").write_text(json.dumps(metadata))
    (store / "energies" / "0").write_bytes(pickled(marker))


def zarr_pickle_codec(store: Path, marker: Path) -> None:
    """The chunk record (read before any data) asks for the pickle codec."""
    record = store / CHUNKS_WRITTEN
    metadata = json.loads((record / "zarr.json").read_text())
    metadata["codecs"].insert(0, {"name": "numcodecs.pickle", "configuration": {}})
    (record / "zarr.json").write_text(json.dumps(metadata))
    for chunk in (record / "c").iterdir():
        chunk.write_bytes(pickled(marker))


def zarr_code_as_strings(store: Path, marker: Path) -> None:
    """``pdg`` holds Python source as variable-length text (zarr's vlen-utf8)."""
    group = zarr.open_group(store, mode="r+")
    del group["pdg"]
    pdg = group.create_array("pdg", shape=(NUM_SHOWERS,), dtype="string")
    pdg[:] = np.array([code(marker)] * NUM_SHOWERS, dtype=object)


def hdf5_replace(file: h5py.File, name: str, data: Any, dtype: Any = None) -> None:
    del file[name]
    file.create_dataset(name, data=data, dtype=dtype)


def hdf5_opaque_showers(path: Path, marker: Path) -> None:
    """``showers`` is opaque bytes: a pickle, not variable-length floats."""
    with h5py.File(path, "r+") as file:
        hdf5_replace(
            file, "showers", np.array([np.void(pickled(marker))] * NUM_SHOWERS)
        )


def hdf5_pickled_strings(path: Path, marker: Path) -> None:
    """``energies`` holds pickles as strings where floats belong."""
    rows = np.array([[pickled(marker).decode()]] * NUM_SHOWERS, dtype=object)
    with h5py.File(path, "r+") as file:
        hdf5_replace(file, "energies", rows, h5py.string_dtype())


def hdf5_object_references(path: Path, marker: Path) -> None:
    """``pdg`` holds HDF5 object references (h5py gives Python objects)."""
    with h5py.File(path, "r+") as file:
        references = np.array([file["energies"].ref] * NUM_SHOWERS, dtype=object)
        hdf5_replace(file, "pdg", references, h5py.ref_dtype)
        file.attrs["payload"] = np.void(pickled(marker))


def hdf5_opaque_observables(path: Path, marker: Path) -> None:
    """An observable is an opaque pickle: only observable readers meet it."""
    with h5py.File(path, "r+") as file:
        opaque = np.array([np.void(pickled(marker))] * NUM_SHOWERS)
        hdf5_replace(file, "observables/center_of_energy", opaque)


def run_cli(*argv: str) -> None:
    """The command line, in process; a refusal is exit status 1 and a message."""
    if cli.main(list(argv)) != 0:
        raise ShowerDataError("the command line refused the file")


#: Every way to read a file: load, particles, shape, length, ShowerDataFile,
#: observables, conversion and the ``info`` and ``verify`` commands.
READERS: dict[str, Callable[[Path, Path], Any]] = {
    "load": lambda path, _: showerdata.load(path).compute(),
    "load_inc_particles": lambda path, _: showerdata.load_inc_particles(path).compute(),
    "get_file_shape": lambda path, _: showerdata.get_file_shape(path),
    "get_file_length": lambda path, _: showerdata.get_file_length(path),
    "ShowerDataFile": lambda path, _: ShowerDataFile(path)[:],
    "observables": lambda path, _: showerdata.observables.read_observables_from_file(
        path
    ),
    "convert": lambda path, out: showerdata.convert(path, out / f"copy-{path.name}"),
    "info": lambda path, _: run_cli("info", str(path)),
    "verify": lambda path, _: run_cli("verify", "--threads", "1", str(path)),
}
ALL = set(READERS)
#: (format, crafting function, readers that must refuse; the others may read
#: the datasets that are fine).
CRAFTED = {
    "zarr format 2, pickled object array": (
        "zarr",
        zarr_format_2_with_pickled_objects,
        ALL,
    ),
    "zarr array with the pickle codec": ("zarr", zarr_pickle_codec, ALL),
    "zarr array of code as strings": ("zarr", zarr_code_as_strings, ALL),
    "HDF5 opaque showers": (
        "h5",
        hdf5_opaque_showers,
        ALL - {"load_inc_particles", "get_file_length", "observables"},
    ),
    "HDF5 pickles as strings": (
        "h5",
        hdf5_pickled_strings,
        ALL - {"get_file_shape"},
    ),
    "HDF5 object references": (
        "h5",
        hdf5_object_references,
        ALL - {"get_file_shape"},
    ),
    "HDF5 opaque observable": (
        "h5",
        hdf5_opaque_observables,
        {"observables", "convert"},
    ),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_files_are_refused_and_nothing_runs(tmp_path, good, case, capsys):
    """Every reader refuses the file, naming it, or reads only its sound datasets.

    The readers that meet the bad dataset raise a :class:`ShowerDataError` (a
    ValueError) that names the file; none of them runs the payload.
    """
    kind, craft, must_refuse = CRAFTED[case]
    path = tmp_path / f"crafted.{kind}"
    marker = tmp_path / "payload-ran"
    (shutil.copytree if kind == "zarr" else shutil.copy)(good[kind], path)
    craft(path, marker)
    refused = set()
    for name, read in READERS.items():
        try:
            read(path, tmp_path)
        except ShowerDataError as error:
            refused.add(name)
            message = str(error) + capsys.readouterr().err
            assert str(path) in message, (name, message)
        assert not marker.exists(), f"{name} ran the payload of {case}"
    assert refused == must_refuse
    assert not any(tmp_path.glob("copy-*")), "a refused conversion left a copy"


@pytest.mark.parametrize("kind", ["h5", "zarr"])
def test_attributes_that_look_like_code_stay_text(tmp_path, good, kind, capsys):
    """Root attributes are handed back as the strings they are, never evaluated.

    ``clustered_for`` names a detector only by equality with known names: an
    unknown value gives the documented fallbacks and errors, and the marker
    the text would create if evaluated never appears.
    """
    path = tmp_path / f"attributes.{kind}"
    marker = tmp_path / "payload-ran"
    (shutil.copytree if kind == "zarr" else shutil.copy)(good[kind], path)
    text = code(marker)
    names = ("clustered_for", "showerdata_version", "note")
    showerdata.add_metadata(path, {name: text for name in names})
    metadata = showerdata.load_metadata(path)
    assert {name: metadata[name] for name in names} == dict.fromkeys(names, text)
    assert get_detector_thresholds(path) == (0.0, 0.0, 0)
    with pytest.raises(ValueError, match="Unknown 'clustered_for'"):
        showerdata.observables.add_observables_to_file(path, overwrite=True)
    assert cli.main(["info", str(path)]) == 0
    assert text in capsys.readouterr().out
    copy = tmp_path / f"copy.{'h5' if kind == 'zarr' else 'zarr'}"
    showerdata.convert(path, copy)
    assert showerdata.load_metadata(copy)["note"] == text
    assert not marker.exists()


def test_the_package_has_no_call_that_runs_file_contents():
    """No pickle, marshal, shelve, eval, exec, compile or ``allow_pickle`` in the code.

    Dask and distributed pickle task graphs between our own processes; file
    contents never reach a deserializer that builds objects.
    """
    banned_modules = {"pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle"}
    banned_calls = {"eval", "exec", "compile", "__import__"}
    found = []
    for source in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            where = f"{source.relative_to(PACKAGE)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                names = {node.func.id} & banned_calls
            elif isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                names = {"allow_pickle"}
            else:
                continue
            found += [
                f"{where}: {name}"
                for name in names & (banned_modules | banned_calls | {"allow_pickle"})
            ]
    assert found == []


# -- the local cluster -----------------------------------------------------------


def listening(process: psutil.Process) -> set[tuple[str, int]]:
    """(IP address, port) of every TCP socket ``process`` accepts connections on."""
    return {
        (connection.laddr.ip, connection.laddr.port)
        for connection in process.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    }


@pytest.mark.timeout(120)
def test_the_local_cluster_of_the_cli_listens_on_loopback_only():
    """Every socket of the ``--workers 2`` cluster listens on 127.0.0.1 only.

    The scheduler and the nannies run in our process, the workers in their
    own. distributed always serves HTTP (health, metrics, info pages; there
    is no bokeh dashboard), on loopback like everything else.
    """
    with execution(ExecutionOptions(workers=2, progress=False)) as run:
        client = run.client
        info = client.scheduler_info()
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert len(info["workers"]) == 2
        assert all(a.startswith("tcp://127.0.0.1:") for a in info["workers"])
        pids = client.run(os.getpid)  # worker address -> pid
        workers = {address: psutil.Process(pid) for address, pid in pids.items()}
        assert all(w.parent().pid == os.getpid() for w in workers.values())
        ours = psutil.Process()
        sockets = {p.pid: listening(p) for p in (ours, *workers.values())}
        assert all(sockets.values()), sockets  # each process does listen
        addresses = {ip for found in sockets.values() for ip, _ in found}
        assert all(ipaddress.ip_address(ip).is_loopback for ip in addresses), sockets
        # The HTTP services are among those loopback sockets.
        ports = {pid: {port for _, port in found} for pid, found in sockets.items()}
        assert set(info["services"].values()) <= ports[ours.pid]
        for address, worker in info["workers"].items():
            assert set(worker["services"].values()) <= ports[workers[address].pid]
