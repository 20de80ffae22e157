"""The file functions of the showerdata API, for HDF5 files and zarr stores.

The format follows the location (``*.zarr``, a URL or a store object is zarr,
see :mod:`.backends`). Readers return lazy objects and read nothing but the
layout; writers compute lazy data chunk by chunk: HDF5 streams every chunk to
one writer, zarr lets every worker write the chunks it computed.
"""

from __future__ import annotations

import os
from typing import Any

import dask
import numpy as np
from numpy.typing import NDArray

from ..attributes import attrs_from_file, attrs_to_write, checked_attributes
from ..bundle import Bundle, is_lazy_array
from ..config import lazy as lazy_mode
from ..config import showers_per_chunk
from ..deferred import dask_array as da
from ..errors import MissingDataError, ShowerDataError
from ..graphs import rechunk
from ..replacing import remove
from ..showers import IncidentParticles, Showers, check_before_write
from ..streaming import iter_blocks
from .backends import backend_for
from .files import opened
from .inputs import is_many
from .layout import points_dataset_names
from .lazy import (
    open_target,
    read_particles_length,
    read_points_header,
    stored_particles,
    stored_showers,
)
from .patterns import is_pattern

#: A local path, a URL (``s3://bucket/prod.zarr``) or a zarr store object.
PathLike = str | os.PathLike[str] | Any


def _path(path: PathLike, storage_options: dict[str, Any] | None = None) -> Any:
    """The location to hand the backends: a path, a URL or a store object.

    A URL with ``storage_options`` becomes the fsspec-backed zarr store they
    describe, which the graph's tasks carry to every worker.
    """
    location = os.fspath(path) if isinstance(path, os.PathLike) else path
    if storage_options is None:
        return location
    if not (isinstance(location, str) and "://" in location):
        raise ValueError(
            f"storage_options apply to URLs of zarr stores (s3://...), not "
            f"'{location}'."
        )
    from zarr.storage import FsspecStore

    return FsspecStore.from_url(
        location, storage_options=storage_options, read_only=False
    )


def _exists(path: Any) -> bool:
    if isinstance(path, str) and "://" not in path:
        return os.path.exists(path)
    try:
        with opened(path):
            return True
    except FileNotFoundError:
        return False


def load(
    path: PathLike,
    start: int = 0,
    stop: int | None = None,
    max_points: int | None = -1,
    *,
    chunks: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Showers:
    """Open showers lazily; nothing but the layout is read until computed.

    Parameters
    ----------
    path : str, os.PathLike, list or zarr store
        Shower file: an HDF5 file, a zarr store's path or URL
        (``s3://bucket/prod.zarr``), or a zarr store object. Or a production
        of many files: a glob (``"prod/part-*.h5"``, natural order: part-2
        before part-10), a directory, a list of paths, or an index file
        (``*.json``, written by ``showerdata index``). HDF5 files and zarr
        stores may be mixed.
    start, stop : int, optional
        Rows to open (negative values count from the end), of the whole
        production. Positions past the end raise :class:`IndexError`.
    max_points : int, optional
        Length of the padded point axis; -1 or None keeps the file's P (of a
        production: the largest P, shorter files are padded). Longer showers
        are truncated and their ``num_points`` clipped.
    chunks : int, optional
        Showers per dask chunk; default gives about ``showerdata.chunk-bytes``
        (64 MiB) of padded points per chunk (a zarr store's own shards). No
        chunk straddles two files.
    storage_options : dict, optional
        For a URL: fsspec's options (e.g. ``{"anon": True}`` or an
        ``endpoint_url``); by default they come from the environment.

    Returns
    -------
    Showers
        Lazy showers; ``.compute()`` gives numpy arrays. Indexing them
        (``showers[7_000_123]``) reads only the selected showers (of a
        production: from the one file holding them). ``showers.sources`` and
        ``showers.locate(i)`` tell which file each comes from.
        ``showers.attrs`` holds the file's root attributes (of a production:
        those all files agree on), e.g. ``clustered_for``. With
        ``showerdata.lazy`` False (:func:`showerdata.config.lazy`), the
        showers are read now and returned in memory, as showerdata 0.7 did.

    Raises
    ------
    FileNotFoundError
        A missing file, or a glob that matches nothing.
    ShowerDataError
        A file that is not a shower file; files of a production that differ
        in F or are clustered for different detectors (naming the files).

    Examples
    --------
    >>> import showerdata
    >>> showers = showerdata.load("production.h5")  # reads only the layout
    >>> showers
    Showers(1,000 showers, P=2000, F=5, 38.17 MiB padded, lazy: 1 chunk of <= 1,000)
    >>> one = showers[7].compute()  # reads shower 7 only
    >>> one.points.shape, int(one.num_points[0]) <= 2000
    ((1, 2000, 5), True)

    A production of many files opens as one:

    >>> showers = showerdata.load("prod/part-*.h5")
    >>> showers.sources[1]
    Source(path='prod/part-2.h5', num_showers=500)
    >>> showers.locate(700)
    ('prod/part-2.h5', 200)
    """
    if is_many(path):
        from .many import load_production

        showers = load_production(path, start, stop, max_points, chunks)
        return showers if lazy_mode() else showers._compute()
    location = _path(path, storage_options)
    stored = stored_showers(location, start, stop, max_points, chunks)
    # The 0.7 mode reads now, with no graph; no showerdata.max-compute-bytes
    # check: 0.7 programs read whole files and had no such limit.
    showers = stored.to_bundle() if lazy_mode() else stored.read()
    showers.attrs = attrs_from_file(load_metadata(location))
    return showers


def load_inc_particles(
    path: PathLike, start: int = 0, stop: int | None = None
) -> IncidentParticles:
    """Open the incident particles of a file lazily.

    Works on shower files and on files holding only incident particles.

    Parameters
    ----------
    path : str, os.PathLike or list
        Shower or incident-particle file, or a production as in :func:`load`.
    start, stop : int, optional
        Rows to open, as in :func:`load`.

    Returns
    -------
    IncidentParticles
        Lazy incident particles (in memory with ``showerdata.lazy`` False).
    """
    if is_many(path):
        from .many import load_production_particles

        particles = load_production_particles(path, start, stop)
        return particles if lazy_mode() else particles._compute()
    location = _path(path)
    stored = stored_particles(location, start, stop)
    particles = stored.to_bundle() if lazy_mode() else stored.read()
    particles.attrs = attrs_from_file(load_metadata(location))
    return particles


def save(
    data: Showers | IncidentParticles,
    path: PathLike,
    overwrite: bool = False,
    *,
    progress: bool = False,
    resume: bool = False,
    storage_options: dict[str, Any] | None = None,
    showers_per_file: int | None = None,
) -> None:
    """Write showers or incident particles to a new file or zarr store, or many.

    Lazy data is computed chunk by chunk, so memory stays bounded by the chunk
    size. HDF5: computed chunks are streamed to one writer. Zarr (a path
    ending in ``.zarr``): each worker writes the chunks it computed, with no
    lock. The file appears at ``path`` only when complete; on error the
    previous file at ``path`` is untouched.

    A pattern (``"out/part-{:05d}.h5"``, ``"out/part-{:05d}.zarr"``) writes
    one file per group of whole chunks, each by the worker that computes its
    chunks, so HDF5 output scales with workers too, and then an index beside
    them (``out/part.index.json``): ``load("out/part-*.h5")`` and
    ``load("out/part.index.json")`` read them back as one. See
    :doc:`/productions`.

    Parameters
    ----------
    data : Showers or IncidentParticles
        What to write.
    path : str, os.PathLike or zarr store
        Destination: an HDF5 file, or a zarr store's path, URL or object.
    overwrite : bool
        Replace an existing file; otherwise raise :class:`FileExistsError`
        before any work is done.
    progress : bool
        Show a progress bar.
    resume : bool
        Zarr: continue a save to ``path`` that was interrupted (killed,
        ``KeyboardInterrupt``, lost cluster), writing only the chunks it had
        not completed. Without an interrupted save it starts afresh. A
        pattern: keep the files of the same rows of the same data that are
        complete, write the others (HDF5 or zarr).
    storage_options : dict, optional
        For a URL: fsspec's options, as in :func:`load`.
    showers_per_file : int, optional
        A pattern only: the most showers of one file; whole chunks are put
        in each file as long as they fit (a longer chunk is a file of its
        own). Default: ``showerdata.file-bytes`` (1 GiB) of padded showers.

    Raises
    ------
    FileExistsError
        The file exists (a pattern: any file of the pattern, or its index)
        and ``overwrite`` is False.
    ShowerDataError
        A file of the pattern (or its index) is one the data is read from.

    Notes
    -----
    ``data.attrs`` become the file's root attributes (as 0.7's
    ``clustered_for``), except ``observables_computed_for``: ``save`` writes
    no observables. Values must be str, int, float or bool.

    Examples
    --------
    >>> import showerdata
    >>> showers = showerdata.load("production.h5")
    >>> showerdata.save(showers[:100], "first-100.zarr")  # zarr: a .zarr path
    >>> showerdata.save(showerdata.cluster(showers, seed=1), "clustered.h5")
    >>> showerdata.load_metadata("clustered.h5")["clustered_for"]
    'ILD'
    """
    if not isinstance(data, (Showers, IncidentParticles)):
        raise TypeError(
            f"save() takes Showers or IncidentParticles, not {type(data).__name__}."
        )
    check_before_write(data)
    attributes = attrs_to_write(data.attrs)
    if is_pattern(path):
        from .partitioned import save_pattern

        save_pattern(
            data,
            path,
            overwrite,
            progress,
            resume,
            showers_per_file,
            attributes=attributes,
        )
        return
    if showers_per_file is not None:
        raise ValueError(
            "showers_per_file applies to an output pattern like 'out/part-{:05d}.h5'."
        )
    if isinstance(data, Showers):
        shape = tuple(int(d) for d in data.points.shape)
        rows = showers_per_chunk(data.max_points, data.num_features)
    else:
        shape, rows = None, 2**20
    location = _path(path, storage_options)
    backend_for(location).save_fields(
        data._fields(),
        location,
        shape,
        overwrite,
        progress,
        resume,
        rows,
        attributes=attributes,
    )


def create_empty_file(
    path: PathLike, shape: tuple[int, int, int], overwrite: bool = True
) -> None:
    """Create a file of ``shape`` = (N, P, F) to be filled with :func:`save_batch`.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.
    shape : tuple of int
        (number of showers, max points, features per point).
    overwrite : bool
        Replace an existing file (default True, as in showerdata 0.7).
    """
    shape = _checked_shape(shape, "shape")
    backend = backend_for(path)
    with backend.new_file(_path(path), overwrite) as file:
        backend.create_showers_layout(file, shape)


def _checked_shape(shape: Any, what: str) -> tuple[int, int, int]:
    values = tuple(int(v) for v in shape)
    if len(values) != 3 or min(values) < 0:
        raise ValueError(
            f"{what} must be 3 non-negative integers (N, P, F), got {shape}."
        )
    return values  # type: ignore[return-value]


def save_batch(data: Showers, path: PathLike, start: int = 0) -> None:
    """Write showers into rows ``start ...`` of an existing file.

    Use :func:`create_empty_file` first. Lazy data is streamed chunk by chunk.
    Independent processes may fill different rows of one zarr store at once:
    chunks they share are rewritten under a lock, never torn.

    Parameters
    ----------
    data : Showers
        Showers to write; their (P, F) must equal the file's.
    path : str or os.PathLike
        File created by :func:`create_empty_file` (or :func:`save`).
    start : int
        First row to write.

    Raises
    ------
    ValueError
        (P, F) of ``data`` differ from the file's.
    IndexError
        The rows would run past the end of the file, or ``start`` is negative.

    Notes
    -----
    HDF5 rows are written in place, so a writer killed midway leaves some rows
    of the batch unreadable. Rerunning the same ``save_batch`` repairs them.

    An output pattern (``out/part-{:05d}.h5``) does not apply: ``save_batch``
    fills rows of one file made beforehand. Jobs that each write their own
    showers can each :func:`save` to a file of their own (or a pattern) and
    be read back as one production with :func:`load`.
    """
    if is_pattern(path):
        raise ValueError(
            f"save_batch writes into one existing file, not a pattern ('{path}'); "
            "save() writes to a pattern."
        )
    path = _path(path)
    with opened(path) as file:
        if "shape" not in file:  # 0.7 looked for nothing else first
            raise MissingDataError(
                f"Key 'shape' not found in {path}. (not a file made by "
                "create_empty_file or save)"
            )
    header = read_points_header(path)
    check_before_write(data)
    _check_batch(
        path,
        header.num_showers,
        (header.max_points, header.num_features),
        data.points.shape,
        start,
        "showers",
    )
    backend_for(path).save_rows(data._fields(), path, start)


def _check_batch(
    path: str,
    num_rows: int,
    row_shape: tuple[int, ...],
    data_shape: tuple[int, ...],
    start: int,
    dataset: str,
) -> None:
    if tuple(data_shape[1:]) != tuple(row_shape):
        raise ValueError(
            f"Shape mismatch: expected {tuple(row_shape)}, got "
            f"{tuple(data_shape[1:])} (file '{path}', dataset '{dataset}')"
        )
    if start < 0 or start + data_shape[0] > num_rows:
        raise IndexError(
            f"Cannot write to {path}: start index {start} + data length "
            f"{data_shape[0]} exceeds file shape {num_rows}."
        )


def get_file_shape(path: PathLike) -> tuple[int, int, int]:
    """Shape (N, P, F) of the showers in a file.

    Of a production (a glob, list, directory or index file, see :func:`load`):
    (total N, largest P, F).

    Raises
    ------
    ValueError
        The file holds no shower data (e.g. only incident particles), or the
        files of a production differ in F.
    """
    if is_many(path):
        from .many import production_shape

        return production_shape(path)
    path = _path(path)
    with opened(path) as file:
        reason = _v07_shape_problem(file, path)
    v07 = f"{path} is not a valid shower data file. ({reason or 'invalid showers'})"
    try:
        if reason is not None:
            raise MissingDataError(f"dataset 'shape' of file '{path}': {reason}")
        header = read_points_header(path)
    except MissingDataError as error:
        raise ValueError(f"{v07} {error}") from None
    except ShowerDataError as error:
        raise _with_v07_message(error, v07) from None
    return (header.num_showers, header.max_points, header.num_features)


def _with_v07_message(error: ShowerDataError, v07: str) -> ShowerDataError:
    """``error`` with 0.7's message for the same mistake first."""
    return ShowerDataError(
        error.problem,
        path=error.path,
        dataset=error.dataset,
        index=error.index,
        v07_message=v07,
    )


def _v07_shape_problem(file: Any, path: Any) -> str | None:
    """What 0.7's ``get_file_shape`` said was wrong with ``shape``, if anything."""
    if "shape" not in file:
        return "no shape key"
    dataset = file["shape"]
    if not backend_for(path).is_dataset(dataset):
        return "shape is not a dataset"
    if dataset.ndim != 1 or dataset.shape[0] != 3 or dataset.dtype.kind != "i":
        return "invalid shape dataset"
    return None


def get_file_length(path: PathLike) -> int:
    """Number of showers (or incident particles) in a file or production."""
    if is_many(path):
        from .many import production_length

        return production_length(path)
    path = _path(path)
    with opened(path) as file:
        reason = None
        if "energies" not in file:
            reason = "no energies dataset"
        elif not backend_for(path).is_dataset(file["energies"]):
            reason = "energies is not a dataset"
    v07 = f"{path} is not a valid shower data file. ({reason or 'invalid datasets'})"
    try:
        return read_particles_length(path, with_ids=False)
    except MissingDataError as error:
        raise ValueError(f"{v07} {error}") from None
    except ShowerDataError as error:
        raise _with_v07_message(error, v07) from None


# -- metadata -------------------------------------------------------------------------


def load_metadata(path: PathLike) -> dict[str, Any]:
    """Root attributes of a file (including ``showerdata_version``).

    Of a production: the attributes all its files agree on.
    """
    if is_many(path):
        from .many import production_metadata

        return production_metadata(path)
    path = _path(path)
    hidden = backend_for(path).STORE_ATTRIBUTES
    with opened(path) as file:
        try:
            return {k: v for k, v in file.attrs.items() if k not in hidden}
        except OSError as error:  # HDF5 keeps string attributes in the heap
            raise ShowerDataError(
                f"cannot read the root attributes: {error}", path=path
            ) from error


def add_metadata(path: PathLike, metadata: dict[str, str | int | float | bool]) -> None:
    """Set root attributes of an existing file.

    Values must be str, int, float or bool (stored as HDF5 attributes; nothing
    is pickled).
    """
    checked = checked_attributes(metadata, "metadata")
    with backend_for(path).existing_file(_path(path)) as file:
        for key, value in checked.items():
            file.attrs[key] = value


def save_group(
    path: PathLike,
    name: str,
    arrays: dict[str, Any],
    attributes: dict[str, Any] | None = None,
) -> None:
    """Write per-shower arrays as group ``name`` of an existing file.

    The group is built under a temporary name and replaces a group ``name``
    only when complete, so a failure keeps the previous one; ``attributes``
    are then set on the root.
    """
    path = _path(path)
    backend_for(path).save_group(path, name, arrays, attributes or {})


# -- targets ---------------------------------------------------------------------------


def add_target_dataset(
    path: PathLike,
    shape: tuple[int, int, int],
    key: str = "target",
    exists_ok: bool = False,
) -> None:
    """Add an empty target of ``shape`` = (N, P, F) to an existing file.

    Parameters
    ----------
    path : str or os.PathLike
        Existing file.
    shape : tuple of int
        Shape of the padded target.
    key : str
        Group name of the target.
    exists_ok : bool
        Do nothing if the target exists; otherwise raise :class:`FileExistsError`.
    """
    path = _path(path)
    shape = _checked_shape(shape, "shape")
    fmt = backend_for(path)
    with fmt.existing_file(path) as file:
        if key in file:
            if exists_ok:
                return
            raise FileExistsError(f"Dataset '{key}' already exists in {path}.")
        fmt.create_points_datasets(file, key, shape)


def _target_num_points(data: Any, path: str, num_points: Any, start: int) -> Any:
    if data.ndim != 3:
        raise ValueError(
            "Data must be a 3D array with shape (num_showers, max_points, features). "
            f"(got shape {data.shape})"
        )
    if num_points is None:
        if not _exists(path):
            raise ValueError(
                "num_points must be provided if the file does not exist yet."
            )
        with opened(path) as file:
            if "num_points" not in file:
                raise MissingDataError(
                    f"file '{path}': no 'num_points' dataset to take the target's "
                    "from; pass num_points."
                )
            num_points = np.asarray(file["num_points"][start : start + data.shape[0]])
    # Counts in memory are checked now, with 0.7's messages, even for lazy data.
    lazy = is_lazy_array(num_points)
    num_points = (da if lazy else np).asarray(num_points).astype(np.int32).reshape(-1)
    if num_points.shape[0] != data.shape[0]:
        raise ValueError(
            "num_points must have the same length as the number of showers in data. "
            f"({num_points.shape[0]} != {data.shape[0]})"
        )
    if not lazy:
        if np.any(num_points < 0):
            raise ValueError("num_points values must be non-negative.")
        if np.any(num_points > data.shape[1]):
            raise ValueError(
                "num_points values cannot exceed the maximum number of points "
                f"({data.shape[1]})."
            )
    else:
        num_points = num_points.map_blocks(
            _checked_target_counts, data.shape[1], dtype=np.int32
        )
    return num_points


def _checked_target_counts(counts: np.ndarray, max_points: int) -> np.ndarray:
    bad = (counts < 0) | (counts > max_points)
    if bad.any():
        raise ShowerDataError(
            f"num_points = {counts[np.argmax(bad)]} is outside 0..{max_points}",
            dataset="num_points",
        )
    return counts


def _target_fields(data: Any, num_points: Any) -> dict[str, Any]:
    if is_lazy_array(data) or is_lazy_array(num_points):
        data = da.asarray(data).astype(np.float32)
        num_points = rechunk(da.asarray(num_points), {0: data.chunks[0]})
        data = rechunk(data, {1: -1, 2: -1})
    else:
        data = np.asarray(data, dtype=np.float32)
    return {"points": data, "num_points": num_points}


def save_target(
    data: NDArray[np.float32] | da.Array,
    path: PathLike,
    num_points: NDArray[np.int32] | da.Array | None = None,
    name: str = "target",
    overwrite: bool = False,
) -> None:
    """Save a padded target (e.g. a generative model's latent) under ``name``.

    The file is created if it does not exist. The target is written under a
    temporary name and moved into place when complete, so a failure keeps the
    previous target.

    Parameters
    ----------
    data : array, shape (N, P, F)
        Padded target; numpy or dask.
    path : str or os.PathLike
        File to add the target to.
    num_points : array, shape (N,), optional
        Real points per row; default: the file's showers' ``num_points``.
    name : str
        Group name of the target.
    overwrite : bool
        Replace an existing target of that name.
    """
    path = _path(path)
    num_points = _target_num_points(data, path, num_points, 0)
    fields = _target_fields(data, num_points)
    fmt = backend_for(path)
    created = not _exists(path)
    if created:
        with fmt.new_file(path, overwrite=False):
            pass
    try:
        _write_target(fmt, path, fields, name, overwrite)
    except BaseException:
        if created and isinstance(path, str):
            # The file exists only for this target: a failure leaves no file.
            remove(path, ignore_errors=True)
        raise


def _write_target(
    fmt: Any, path: Any, fields: dict[str, Any], name: str, overwrite: bool
) -> None:
    """Write a target under a temporary name and move it into place when complete."""
    data = fields["points"]
    with fmt.existing_file(path) as file:
        if name in file and not overwrite:
            raise FileExistsError(
                f"Dataset '{name}' already exists in {path}. Use overwrite=True to "
                "overwrite."
            )
        fmt.check_replaceable(file, name)
        staging = f".{name}.partial"
        if staging in file:
            del file[staging]
        shape = tuple(int(d) for d in data.shape)
        try:
            file.create_group(staging)
            fmt.create_points_datasets(file, staging, shape)
            rows = showers_per_chunk(shape[1], shape[2])
            for start, block in iter_blocks(fields, chunk_length=rows):
                fmt.write_points(
                    file, staging, start, block["points"], block["num_points"]
                )
        except BaseException:
            del file[staging]
            raise
        fmt.replace_group(file, staging, name)


def save_target_batch(
    data: NDArray[np.float32] | da.Array,
    path: PathLike,
    num_points: NDArray[np.int32] | da.Array | None = None,
    start: int = 0,
    key: str = "target",
) -> None:
    """Write target rows ``start ...`` into a target made by :func:`add_target_dataset`.

    Parameters
    ----------
    data : array, shape (n, P, F)
        Padded target rows; (P, F) must equal the target's.
    path : str or os.PathLike
        Existing file.
    num_points : array, shape (n,), optional
        Real points per row; default: the file's showers' ``num_points``.
    start : int
        First row to write.
    key : str
        Target group name.
    """
    path = _path(path)
    try:
        header = read_points_header(path, key)
    except MissingDataError:
        raise MissingDataError(f"Key '{key}' not found in {path}.") from None
    num_points = _target_num_points(data, path, num_points, start)
    _check_batch(
        path,
        header.num_showers,
        (header.max_points, header.num_features),
        data.shape,
        start,
        points_dataset_names(key)[0],
    )
    fields = _target_fields(data, num_points)
    rows = showers_per_chunk(header.max_points, header.num_features)
    fmt = backend_for(path)
    with fmt.existing_file(path) as file:
        for offset, block in iter_blocks(fields, chunk_length=rows):
            fmt.write_points(
                file, key, start + offset, block["points"], block["num_points"]
            )


def load_target(
    path: PathLike,
    key: str = "target",
    start: int = 0,
    stop: int | None = None,
    max_points: int | None = -1,
) -> tuple[Any, Any]:
    """Open a target lazily: ``(points, num_points)`` as dask arrays.

    Call ``dask.compute(points, num_points)`` for numpy arrays (which works
    in both modes). With ``showerdata.lazy`` False they are numpy arrays
    already, as in showerdata 0.7.

    Parameters
    ----------
    path : str, os.PathLike or list
        File holding the target, or a production as in :func:`load`.
    key : str
        Target group name.
    start, stop : int, optional
        Rows to open, as in :func:`load`.
    max_points : int, optional
        Length of the padded point axis; -1 or None keeps the target's P.
    """
    if is_many(path):
        from .many import load_production_target

        points, num_points = load_production_target(path, key, start, stop, max_points)
    else:
        points, num_points = open_target(_path(path), key, start, stop, max_points)
    if not lazy_mode():
        return dask.compute(points, num_points, scheduler="sync")
    return points, num_points


Bundle.writer = staticmethod(save)  # type: ignore[assignment]

__all__ = [
    "add_metadata",
    "add_target_dataset",
    "create_empty_file",
    "get_file_length",
    "get_file_shape",
    "load",
    "load_inc_particles",
    "load_metadata",
    "load_target",
    "save",
    "save_batch",
    "save_target",
    "save_target_batch",
]
