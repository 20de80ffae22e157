"""The data model: :class:`Showers`, :class:`IncidentParticles`, :func:`concatenate`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from dask.utils import format_bytes
from numpy.typing import ArrayLike

from .attributes import shared_attributes
from .bundle import Bundle, align_lazy, as_field, is_lazy_array
from .deferred import dask_array as da
from .graphs import rechunk, rows_blockwise
from .kernels.layout import count_real_points
from .validation import check_points, checked_points_block

#: Coordinates/energy columns of a point; a fifth column, if present, is time.
NUM_FEATURES_CHOICES = (4, 5)


def _default_directions(length: int) -> np.ndarray:
    directions = np.zeros((length, 3), dtype=np.float32)
    directions[:, 2] = 1.0
    return directions


def count_points(points: Any) -> Any:
    """Real points per shower of padded points, lazy for lazy points."""
    if is_lazy_array(points):
        return rows_blockwise(count_real_points, "i", points, "ijk", dtype=np.int32)
    return count_real_points(points)


def _check_known_shape(name: str, array: Any) -> None:
    if any(np.isnan(d) for d in array.shape):
        raise ValueError(
            f"{name} has unknown chunk sizes; call .compute_chunk_sizes() first."
        )


def checked_lazy_points(points: da.Array, num_points: da.Array) -> da.Array:
    """``points`` with a task per chunk that checks them against ``num_points``.

    Both chunked alike along showers. The check raises a
    :class:`~showerdata.ShowerDataError` naming the first bad shower.
    """
    return da.map_blocks(
        checked_points_block,
        points,
        num_points[:, None, None],
        dtype=np.float32,
        meta=np.empty((0, 0, 0), np.float32),
    )


#: What showerdata 0.7 said when a field of Showers had the wrong shape.
_V07_SHOWERS_SHAPE_MESSAGES = {
    "energies": "Energies must be a 2D array with shape (num_showers, 1).",
    "directions": "Directions must be a 2D array with shape (num_showers, 3).",
    "pdg": "PDG must be a 1D array with length equal to num_showers.",
    "shower_ids": "Shower IDs must be a 1D array with length equal to num_showers.",
    "num_points": "num_points must be a 1D array with length equal to num_showers.",
}

#: What showerdata 0.7 said of IncidentParticles: a field with the wrong number
#: of dimensions or columns is named, one of the wrong length is not.
_V07_PARTICLES_COLUMNS_MESSAGES = {
    "energies": "Energies must be a 2D array with shape (num_particles, 1).",
    "directions": "Directions must be a 2D array with shape (num_particles, 3).",
}
_V07_PARTICLES_LENGTH_MESSAGE = "All input arrays must have the same length."


def _check_points_shape(points: Any) -> None:
    if points.ndim != 3 or points.shape[2] not in NUM_FEATURES_CHOICES:
        # 0.7's text (its check came after a count that failed first).
        raise ValueError(
            "Points must be a 3D array with shape (num_showers, max_points, 4 or "
            f"5) got {points.shape}"
        )


def _check_shapes(
    fields: dict[str, Any],
    expected: dict[str, tuple],
    v07_messages: dict[str, str] | None = None,
) -> None:
    """Raise ValueError for the first field whose shape is not ``expected``.

    The message starts with 0.7's for that field, if given, then says ours.
    """
    for name, shape in expected.items():
        _check_known_shape(name, fields[name])
        actual = tuple(fields[name].shape)
        if actual != shape:
            ours = f"{name} must have shape {_shape_text(shape)}, got {actual}."
            v07 = (v07_messages or {}).get(name)
            raise ValueError(f"{v07} ({ours})" if v07 else ours)


def _shape_text(shape: tuple) -> str:
    return (
        "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    )


class IncidentParticles(Bundle):
    """Incident particles: energies, PDG ids and directions, one row per shower.

    Parameters
    ----------
    energies : array_like, shape (N, 1)
        Energies of the incident particles [GeV].
    pdg : array_like or int
        PDG identifier(s); an int is used for every particle.
    directions : array_like, shape (N, 3), optional
        Unit vectors of the incident directions; default (0, 0, 1).
    attrs : dict, optional
        Metadata, written as root attributes by ``save`` (see
        :attr:`Showers.attrs`).

    Notes
    -----
    Numpy inputs give an in-memory object, dask inputs a lazy one.
    """

    FIELDS = ("energies", "pdg", "directions")

    energies: Any
    pdg: Any
    directions: Any

    def __init__(
        self,
        energies: ArrayLike,
        pdg: ArrayLike | int,
        directions: ArrayLike | None = None,
        *,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        energies = as_field(energies, np.float32)
        _check_known_shape("energies", energies)
        length = energies.shape[0] if energies.ndim else 0
        pdg = as_field(pdg, np.int32)
        if pdg.ndim == 0:
            pdg = np.full((length,), int(pdg), dtype=np.int32)
        if directions is None:
            directions = _default_directions(length)
        directions = as_field(directions, np.float32)
        fields = {"energies": energies, "pdg": pdg, "directions": directions}
        for name, columns in (("energies", 1), ("directions", 3)):
            field = fields[name]
            if field.ndim != 2 or field.shape[1] != columns:
                raise ValueError(
                    f"{_V07_PARTICLES_COLUMNS_MESSAGES[name]} ({name} must be a 2D "
                    f"array with shape (N, {columns}), got {field.shape}.)"
                )
        if pdg.ndim != 1:
            raise ValueError(f"PDG must be a 1D array. (got shape {pdg.shape})")
        _check_shapes(
            fields,
            self._row_shapes(length),
            dict.fromkeys(fields, _V07_PARTICLES_LENGTH_MESSAGE),
        )
        if any(is_lazy_array(f) for f in fields.values()):
            fields = align_lazy(fields)
        Bundle.__init__(self, attrs)
        for name, value in fields.items():
            setattr(self, name, value)
        self._remember_fields()

    @staticmethod
    def _row_shapes(length: int) -> dict[str, tuple[int, ...]]:
        return {"energies": (length, 1), "pdg": (length,), "directions": (length, 3)}

    def __repr__(self) -> str:
        return (
            f"IncidentParticles({len(self):,} particles, {_form_text(self)}"
            f"{_files_text(self)})"
        )


class Showers(Bundle):
    """Padded point clouds of calorimeter showers with their incident particles.

    Parameters
    ----------
    points : array_like, shape (N, P, F)
        Points ``x, y [mm], z = layer, e [GeV]`` and optionally ``t [ns]``
        (F = 4 or 5); real points first, then zero padding (e == 0).
    energies : array_like, shape (N, 1) or (N,)
        Incident energies [GeV].
    pdg : array_like or int
        PDG identifier(s) of the incident particles.
    directions : array_like, shape (N, 3), optional
        Incident directions as unit vectors; default (0, 0, 1).
    shower_ids : array_like, shape (N,), optional
        Identifiers; default ``0 .. N-1``.
    num_points : array_like, shape (N,), optional
        Number of real points per shower; default: counted from ``points``.
    copy : bool, optional
        Copy numpy inputs (as :func:`numpy.asarray` ``copy=``).
    attrs : dict, optional
        Provenance and user metadata (see :attr:`attrs`).

    Attributes
    ----------
    points : array, shape (N, P, F), float32
        Padded points; the first ``num_points[i]`` of shower ``i`` are real.
    num_points : array, shape (N,), int32
        Real points per shower (``_num_points`` is an alias, as in 0.7).
    energies : array, shape (N, 1), float32
        Incident energies [GeV].
    directions : array, shape (N, 3), float32
        Incident directions.
    pdg : array, shape (N,), int32
        PDG ids of the incident particles.
    shower_ids : array, shape (N,), int32
        Identifiers.

    The arrays are numpy arrays in memory and dask arrays, chunked alike
    along the shower axis, when lazy. :attr:`attrs` holds the provenance.

    Notes
    -----
    Indexing selects showers and keeps the form: ``s[i]`` (a
    ``Showers`` of length 1), ``s[a:b:c]``, ``s[[i, j]]`` and ``s[mask]`` with a
    boolean mask of length N. Negative indices count from the end; a ``stop``
    past the end clips. On showers fresh from :func:`~showerdata.load` the
    selection is pushed down to the file: ``load(p)[7_000_123].compute()``
    reads one shower. ``len(s)`` is N; iterating gives one shower at a time.

    If any input is a dask array the object is *lazy*: every field becomes a
    dask array chunked like that input, and the data checks run chunk by chunk
    when the data is computed or written. Otherwise it is *in memory* and the
    checks run now. Invalid data raises :class:`~showerdata.ShowerDataError`
    (a :class:`ValueError`) naming the first bad shower.

    Fields may be edited in place (``s.energies[0, 0] = 99``, which dask
    arrays take too: the edit becomes part of the array's graph) or replaced
    (``s.points = s.points[:, :, :4]``). Either way every later use sees the
    new values: indexing, :meth:`compute`, :meth:`persist`, :meth:`copy`, the
    operations, :func:`concatenate` and every writer. Showers read from a file
    serve ``s[...]`` and ``compute()`` straight from its rows only while no
    field has been edited or replaced; after that, from the fields' graphs.
    Edited or replaced lazy ``points``/``num_points`` are checked like lazy
    inputs, chunk by chunk wherever they are read.

    Examples
    --------
    Two showers of 2 and 1 points (x, y, layer, e), in memory:

    >>> import numpy as np, showerdata
    >>> points = np.zeros((2, 3, 4), np.float32)
    >>> points[0, :2] = [[0.0, 0.0, 0.0, 0.5], [10.0, 5.0, 1.0, 0.25]]
    >>> points[1, :1] = [[-3.0, 2.0, 4.0, 1.0]]
    >>> showers = showerdata.Showers(points, energies=[10.0, 20.0], pdg=22)
    >>> showers.num_points  # counted from the padding
    array([2, 1], dtype=int32)
    >>> showers[1].energies
    array([[20.]], dtype=float32)
    >>> showers[showers.energies[:, 0] > 15].points[0, 0]
    array([-3.,  2.,  4.,  1.], dtype=float32)

    Lazy showers from a file; ``compute()`` gives the in-memory form:

    >>> lazy = showerdata.load("production.h5")
    >>> lazy.is_lazy, lazy[:3].compute().is_lazy
    (True, False)
    >>> len(lazy[::10]), lazy[-1].shower_ids.compute()
    (100, array([999], dtype=int32))
    """

    FIELDS = ("points", "energies", "pdg", "directions", "shower_ids", "num_points")

    points: Any
    energies: Any
    pdg: Any
    directions: Any
    shower_ids: Any
    num_points: Any

    def __init__(
        self,
        points: ArrayLike = (),
        energies: ArrayLike = (),
        pdg: ArrayLike | int = (),
        directions: ArrayLike | None = None,
        shower_ids: ArrayLike | None = None,
        num_points: ArrayLike | None = None,
        copy: bool | None = None,
        *,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(points, tuple) and len(points) == 0:
            points = np.empty((0, 0, 5), dtype=np.float32)
        points = as_field(points, np.float32, copy=copy)
        _check_points_shape(points)
        _check_known_shape("points", points)
        length = points.shape[0]
        energies = as_field(energies, np.float32, copy=copy)
        if energies.ndim == 1:
            energies = energies.reshape((-1, 1))
        if isinstance(pdg, (int, np.integer)):
            pdg = np.full((length,), int(pdg), dtype=np.int32)
        pdg = as_field(pdg, np.int32, copy=copy)
        if pdg.ndim > 1 and any(d != 1 for d in pdg.shape[1:]):
            raise ValueError(
                f"Invalid shape for PDG array. (pdg must be a 1D array, got shape "
                f"{pdg.shape}.)"
            )
        pdg = pdg.reshape((-1,))
        if directions is None:
            directions = _default_directions(length)
        directions = as_field(directions, np.float32, copy=copy)
        if shower_ids is None:
            shower_ids = np.arange(length, dtype=np.int32)
        shower_ids = as_field(shower_ids, np.int32, copy=copy)
        counted = num_points is None
        num_points = (
            count_points(points)
            if counted
            else as_field(num_points, np.int32, copy=copy)
        )
        fields = {
            "points": points,
            "energies": energies,
            "pdg": pdg,
            "directions": directions,
            "shower_ids": shower_ids,
            "num_points": num_points,
        }
        _check_shapes(fields, self._row_shapes(length), _V07_SHOWERS_SHAPE_MESSAGES)
        if any(is_lazy_array(f) for f in fields.values()):
            fields = align_lazy(fields)
            fields["points"] = checked_lazy_points(
                fields["points"], fields["num_points"]
            )
        else:
            check_points(points, num_points, dataset="points")
        Bundle.__init__(self, attrs)
        for name, value in fields.items():
            setattr(self, name, value)
        self._remember_fields()

    @staticmethod
    def _row_shapes(length: int) -> dict[str, tuple[int, ...]]:
        return {
            "energies": (length, 1),
            "directions": (length, 3),
            "pdg": (length,),
            "shower_ids": (length,),
            "num_points": (length,),
        }

    def _fields(self) -> dict[str, Any]:
        """The fields as they are computed, indexed, processed and written.

        Lazy points or num_points edited since the showers were built
        (``s.points[0, 0, 3] = -1``, ``s.num_points = ...``) are checked
        against each other chunk by chunk, as those given to a new lazy
        ``Showers`` are: the edit is read wherever the showers are, and must
        not make a file that ``load`` refuses. (In-memory fields are checked
        again by the writers, see :func:`check_before_write`.)
        """
        fields = super()._fields()
        points, num_points = fields["points"], fields["num_points"]
        if (
            is_lazy_array(points)
            and is_lazy_array(num_points)
            and self._edited() & {"points", "num_points"}
            # Else a field is being replaced; the writers say what is wrong.
            and points.chunks[0] == num_points.chunks[0]
        ):
            fields["points"] = checked_lazy_points(points, num_points)
        return fields

    # 0.7 kept num_points private; user code still reads and writes it this way.
    @property
    def _num_points(self) -> Any:
        return self.num_points

    @_num_points.setter
    def _num_points(self, value: Any) -> None:
        self.num_points = value

    @property
    def is_empty(self) -> bool:
        """True when there are no showers."""
        return len(self) == 0

    @property
    def max_points(self) -> int:
        """Length P of the padded point axis."""
        return int(self.points.shape[1])

    @property
    def num_features(self) -> int:
        """Number F of features per point (4, or 5 with time)."""
        return int(self.points.shape[2])

    @property
    def inc_particles(self) -> IncidentParticles:
        """The incident particles of these showers, lazy or in memory like them."""
        return IncidentParticles._from_fields(
            {"energies": self.energies, "pdg": self.pdg, "directions": self.directions},
            origin=self._origin,
            attrs=self.attrs,
        )

    def copy(self) -> Showers:
        """Return a copy; in-memory arrays are copied, dask graphs are shared.

        Lazy fields become new dask arrays over the same graphs: nothing is
        computed, and an in-place edit of the copy (``c.energies[0] = 1``
        replaces that array's graph) does not reach the original.
        """
        if self.is_lazy:
            fields = {
                name: da.Array(a.dask, a.name, a.chunks, meta=a)
                for name, a in self._fields().items()
            }
            return Showers._from_fields(
                fields, source=self._source, origin=self._origin, attrs=self.attrs
            )
        return Showers._from_fields(
            {k: v.copy() for k, v in self._fields().items()},
            origin=self._origin,
            attrs=self.attrs,
        )

    def __add__(self, other: Showers) -> Showers:
        if not isinstance(other, Showers):
            raise TypeError(
                f"Can only add Showers instances. (got {type(other).__name__})"
            )
        if self.is_empty:
            return other.copy()
        if other.is_empty:
            return self.copy()
        return concatenate([self, other])

    def __repr__(self) -> str:
        n, p, f = self.points.shape
        # The size is what compute() would hold: the padded arrays.
        size = format_bytes(self.nbytes)
        return (
            f"Showers({n:,} showers, P={p}, F={f}, {size} padded, {_form_text(self)}"
            f"{_files_text(self)})"
        )


def check_before_write(data: Showers | IncidentParticles) -> None:
    """Check the fields again just before they are written.

    numpy lets users change in-memory fields in place after construction (0.7
    scripts do ``s.num_points[i] = ...``), so a save could otherwise write a
    file that ``load`` refuses, or drop points silently. Lazy points are checked
    by their graph, chunk by chunk, as they are computed; their shapes here.

    Raises
    ------
    ValueError
        Fields of different lengths or shapes, or an invalid shower (a
        :class:`~showerdata.ShowerDataError` naming it).
    """
    fields = data._fields()
    first = fields[data.FIELDS[0]]  # points, or the particles' energies
    _check_known_shape(data.FIELDS[0], first)
    if isinstance(data, Showers):
        _check_points_shape(first)
    _check_shapes(fields, data._row_shapes(first.shape[0] if first.ndim else 0))
    if isinstance(data, Showers) and not data.is_lazy:
        check_points(data.points, data.num_points, dataset="points")


def _form_text(bundle: Bundle) -> str:
    chunks = bundle.chunks
    if chunks is None:
        return "in memory"
    plural = "s" if len(chunks) != 1 else ""
    return f"lazy: {len(chunks)} chunk{plural} of <= {max(chunks):,}"


def _files_text(bundle: Bundle) -> str:
    """``", from 12 files"`` for rows opened over several files; else nothing."""
    origin = bundle._origin
    count = 0 if origin is None else origin.file_count()
    return f", from {count:,} files" if count > 1 else ""


def concatenate(data: Iterable[Showers]) -> Showers:
    """Concatenate showers along the shower axis.

    Point axes are zero-padded to the longest. The result is lazy if any input
    is lazy; empty inputs are skipped.

    Parameters
    ----------
    data : iterable of Showers
        Showers to concatenate; all must have the same number of features F.

    Returns
    -------
    Showers
        The concatenated showers; their ``attrs`` are those every input has
        with the same value.
    """
    parts = [s for s in data if not s.is_empty]
    if not parts:
        return Showers()
    features = {s.num_features for s in parts}
    if len(features) > 1:
        raise ValueError(
            "Incompatible shower shapes. (cannot concatenate showers with different "
            f"numbers of features {sorted(features)})"
        )
    if len(parts) == 1:
        return parts[0].copy()
    attrs = shared_attributes(s.attrs for s in parts)
    max_points = max(s.max_points for s in parts)
    lazy = any(s.is_lazy for s in parts)
    lib = da if lazy else np
    if lazy:
        # dask would chunk each in-memory field on its own (by its itemsize);
        # chunk them here so every field keeps one chunking along showers.
        parts = [s if s.is_lazy else s.chunk("auto") for s in parts]

    def padded(points: Any) -> Any:
        missing = max_points - points.shape[1]
        return lib.pad(points, ((0, 0), (0, missing), (0, 0))) if missing else points

    each = [s._fields() for s in parts]
    fields = {
        name: lib.concatenate(
            [padded(f[name]) if name == "points" else f[name] for f in each],
            axis=0,
        )
        for name in Showers.FIELDS
    }
    if lazy:
        fields["points"] = rechunk(fields["points"], {1: -1, 2: -1})
    return Showers._from_fields(fields, attrs=attrs)
