"""Benchmark data files: toy showers written once with our package, then reused.

Each file has a JSON sidecar (``<file>.json``) holding the parameters it was
generated with and its size. A file is reused when its sidecar matches the
requested parameters and its size on disk; otherwise it is regenerated. The
generation runs in a child process of our interpreter (the orchestrator itself
imports nothing but the standard library).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from child import ChildError, run_child

#: Bumped when the generation procedure changes, so old files are regenerated.
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class DataSpec:
    """One toy shower file: shape, seed and the batch size used to write it."""

    name: str
    num_showers: int
    max_points: int
    num_features: int
    batch: int
    seed: int = 0

    @property
    def filename(self) -> str:
        """File name encoding the shape, e.g. ``main_20000x2000x5.h5``."""
        n, p, f = self.num_showers, self.max_points, self.num_features
        return f"{self.name}_{n}x{p}x{f}.h5"

    @property
    def padded_bytes(self) -> int:
        """Size of the padded float32 points in memory."""
        return self.num_showers * self.max_points * self.num_features * 4

    def parameters(self) -> dict[str, object]:
        """Everything that determines the content of the file."""
        return {**asdict(self), "generator_version": GENERATOR_VERSION}


@dataclass(frozen=True)
class DataSet:
    """The files one benchmark run uses."""

    main: DataSpec
    many_small: DataSpec
    few_small: DataSpec

    def specs(self) -> tuple[DataSpec, ...]:
        """All files of the set."""
        return (self.main, self.many_small, self.few_small)


def dataset_for(quick: bool) -> DataSet:
    """Full-size files, or small ones for a ``--quick`` smoke run.

    The main file is written in batches of 2,000 showers; the files of tiny
    showers (P = 10) in batches of 100,000, which is still only 16 MB padded.
    """
    if quick:
        return DataSet(
            main=DataSpec("main", 2_000, 2000, 5, batch=2_000),
            many_small=DataSpec("small", 100_000, 10, 4, batch=100_000),
            few_small=DataSpec("small", 1_000, 10, 4, batch=100_000),
        )
    return DataSet(
        main=DataSpec("main", 20_000, 2000, 5, batch=2_000),
        many_small=DataSpec("small", 1_000_000, 10, 4, batch=100_000),
        few_small=DataSpec("small", 1_000, 10, 4, batch=100_000),
    )


# Runs in our interpreter; PARAMS is the spec plus the destination path.
GENERATE = """
import os
import showerdata
from showerdata.toy import toy_arrays

n, p, f = PARAMS["num_showers"], PARAMS["max_points"], PARAMS["num_features"]
path = PARAMS["path"]
work = path + ".generating"
showerdata.create_empty_file(work, (n, p, f), overwrite=True)
for start in range(0, n, PARAMS["batch"]):
    stop = min(n, start + PARAMS["batch"])
    arrays = toy_arrays(start, stop, seed=PARAMS["seed"], max_points=p, num_features=f)
    showerdata.save_batch(showerdata.Showers(**arrays), work, start=start)
os.replace(work, path)
emit(size_bytes=os.path.getsize(path))
"""


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def is_valid(spec: DataSpec, path: Path) -> bool:
    """Whether ``path`` holds the file ``spec`` describes (per its sidecar)."""
    sidecar = _sidecar(path)
    if not (path.is_file() and sidecar.is_file()):
        return False
    try:
        recorded = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return False
    return (
        recorded.get("parameters") == spec.parameters()
        and recorded.get("size_bytes") == path.stat().st_size
    )


def ensure(
    spec: DataSpec, directory: Path, python: str, pythonpath: str | None = None
) -> tuple[Path, str]:
    """Path of the file for ``spec``, generating it with ``python`` if needed.

    Returns the path and a short note: "reused" or how long generation took.
    """
    path = directory / spec.filename
    if is_valid(spec, path):
        return path, "reused"
    begin = time.perf_counter()
    try:
        result = run_child(
            python,
            GENERATE,
            {**asdict(spec), "path": str(path)},
            directory,
            pythonpath=pythonpath,
        )
    except ChildError as error:
        raise RuntimeError(f"generating {path} failed: {error}") from None
    record = {
        "parameters": spec.parameters(),
        "size_bytes": result.values["size_bytes"],
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _sidecar(path).write_text(json.dumps(record, indent=2) + "\n")
    return path, f"generated in {time.perf_counter() - begin:.1f} s"
