"""Lossless conversion between the formats (HDF5 <-> zarr), streaming."""

from __future__ import annotations

import os
import uuid

from ..errors import MissingDataError
from ..failpoints import failpoint
from ..replacing import remove, replace_directory
from .api import (
    PathLike,
    add_metadata,
    load,
    load_inc_particles,
    load_metadata,
    load_target,
    save,
    save_target,
)
from .backends import backend_for, is_zarr
from .files import forget, opened
from .inputs import is_many
from .lazy import require_numeric_dataset
from .patterns import is_pattern

#: Rows of an observable copied at once.
ROWS_PER_COPY = 2**18


def convert(
    source: PathLike,
    destination: PathLike,
    overwrite: bool = False,
    *,
    progress: bool = False,
    showers_per_file: int | None = None,
    resume: bool = False,
) -> None:
    """Copy a shower file to another format (or the same), value for value.

    Showers (or incident particles), every target, the observables and the
    root attributes are copied chunk by chunk; the destination format follows
    its path (``*.zarr`` is a zarr store). The destination appears only when
    complete.

    Parameters
    ----------
    source : str or os.PathLike
        HDF5 file or zarr store written by showerdata (any version).
    destination : str or os.PathLike
        New file or store.
    overwrite : bool
        Replace an existing destination.
    progress : bool
        Show progress bars.
    showers_per_file : int, optional
        For a destination pattern (``out/part-{:05d}.h5``): as in
        :func:`showerdata.save`. A pattern takes the showers (or incident
        particles) and the root attributes of a file or of a production
        (glob, list, directory, index file) whose files hold no targets and
        no observables.
    resume : bool
        For a destination pattern: keep the files an interrupted conversion
        completed, as in :func:`showerdata.save`.

    Notes
    -----
    The points, counts, per-shower values, targets and observables are equal
    bit for bit. The ``shape`` and ``num_points`` datasets are written as
    int32, the layout's dtype (0.7 wrote ``shape`` from ``save`` and some
    targets' ``num_points`` as int64); their values are equal.
    """
    if is_pattern(destination):
        _convert_to_pattern(
            source,
            os.fspath(destination),
            overwrite,
            progress,
            showers_per_file,
            resume,
        )
        return
    if resume:
        raise ValueError("resume=True applies to a destination pattern.")
    source, destination = os.fspath(source), os.fspath(destination).rstrip("/")
    if os.path.abspath(source) == os.path.abspath(destination):
        raise ValueError(f"convert: source and destination are both '{source}'.")
    backend_for(destination).check_destination(destination, overwrite)
    directory, name = os.path.split(os.path.abspath(destination))
    working = os.path.join(directory, f".{uuid.uuid4().hex[:8]}.converting.{name}")
    try:
        _copy(source, working, progress)
        failpoint("convert.before-rename")
        forget(destination)
        if is_zarr(destination):
            replace_directory(working, destination)
        else:
            os.replace(working, destination)
    finally:
        remove(working)


def _copy(source: str, destination: str, progress: bool) -> None:
    with opened(source) as file:
        has_showers = "shape" in file
        targets = _target_keys(file)
        has_observables = "observables" in file
    if has_showers:
        save(load(source), destination, progress=progress)
    else:
        save(load_inc_particles(source), destination, progress=progress)
    for key in targets:
        points, num_points = load_target(source, key)
        save_target(points, destination, num_points, name=key)
    if has_observables:
        _copy_observables(source, destination)
    add_metadata(destination, load_metadata(source))


def _convert_to_pattern(
    source: PathLike,
    pattern: str,
    overwrite: bool,
    progress: bool,
    showers_per_file: int | None,
    resume: bool,
) -> None:
    from .inputs import expand_inputs, is_index
    from .partitioned import save_pattern

    if is_index(source):
        from .index import read_index

        files = [entry.location for entry in read_index(os.fspath(source))[0]]
    else:
        files = expand_inputs(source) if is_many(source) else [source]
    has_showers = True
    for path in files:
        with opened(path) as file:
            has_showers = "shape" in file
            extra = _target_keys(file) + (
                ["observables"] if "observables" in file else []
            )
        if extra:
            raise ValueError(
                f"convert to a pattern copies showers and root attributes; "
                f"'{path}' also holds {', '.join(extra)}: convert it to one file."
            )
    data = load(source) if has_showers else load_inc_particles(source)
    save_pattern(
        data,
        pattern,
        overwrite,
        progress,
        resume,
        showers_per_file,
        attributes=load_metadata(source),
    )


def _target_keys(file: object) -> list[str]:
    keys = []
    for key in file.keys():  # type: ignore[attr-defined]
        item = file[key]  # type: ignore[index]
        if hasattr(item, "keys") and "point_clouds" in item and not key.startswith("."):
            keys.append(key)
    return keys


def _copy_observables(source: str, destination: str) -> None:
    backend = backend_for(destination)
    with opened(source) as reader, backend.existing_file(destination) as file:
        stored = reader["observables"]
        group = file.require_group("observables")
        for key in stored.keys():
            if not hasattr(stored[key], "shape"):
                raise MissingDataError(
                    f"file '{source}': 'observables/{key}' is a group, expected arrays."
                )
            values = require_numeric_dataset(reader, f"observables/{key}", source)
            target = backend.create_dataset(group, key, values.shape, values.dtype)
            # Observables are a few numbers per shower: plain slices suffice.
            for start in range(0, values.shape[0], ROWS_PER_COPY):
                stop = start + ROWS_PER_COPY
                target[start:stop] = values[start:stop]
