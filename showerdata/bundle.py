"""Aligned per-shower arrays that are either all numpy or all dask.

:class:`Showers` and :class:`IncidentParticles` are both bundles: a fixed set of
fields whose first axis is the shower axis. Like xarray, a bundle is *lazy* (every
field a dask array, one chunking along showers) or *in memory* (every field a
numpy array), and every operation keeps the form it was given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, NamedTuple, Protocol, TypeVar

import dask
import dask.local
import dask.threaded
import numpy as np
from dask.utils import format_bytes

from .buffers import zeros
from .config import MAX_COMPUTE_BYTES_KEY, chunk_bytes, max_compute_bytes
from .deferred import dask_array as da
from .deferred import is_dask_array
from .errors import ShowerDataError
from .graphs import (
    compute,
    compute_into,
    filling,
    local_scheduler,
    persist,
    rechunk,
)
from .indexing import IndexLike, Selection, normalize_index

B = TypeVar("B", bound="Bundle")


class Source(NamedTuple):
    """One file the rows of a bundle come from (see :attr:`Bundle.sources`)."""

    path: str
    num_showers: int


class StoredSelection(Protocol):
    """A selection of rows of stored files that can be narrowed without reading.

    Readers attach one to the lazy bundles they return so that ``showers[i]``
    builds a graph reading only shower ``i`` instead of slicing a whole chunk;
    it also says which file and row each shower comes from.
    """

    def select(self, selection: Selection) -> Bundle: ...

    def narrowed(self, selection: Selection) -> StoredSelection:
        """The stored selection of the given positions, with no graph built."""
        ...

    def read(self) -> Bundle:
        """The selected rows, read now, in memory."""
        ...

    def sources(self) -> list[Source]:
        """The files of the selected rows, in order, with how many rows each."""
        ...

    def locate(self, position: int) -> tuple[str, int]:
        """(path, row in that file) of the ``position``-th selected row."""
        ...

    def file_count(self) -> int:
        """Number of files the selection was opened over."""
        ...


def is_lazy_array(array: Any) -> bool:
    """Whether ``array`` is a dask array."""
    return is_dask_array(array)


class Bundle:
    """Base of :class:`Showers` and :class:`IncidentParticles`.

    Subclasses list their field names in ``FIELDS``; the first is the reference
    for the number of showers.
    """

    FIELDS: ClassVar[tuple[str, ...]] = ()
    #: What :meth:`save` calls: ``showerdata.io`` sets it to its ``save`` when
    #: imported, so that the model never imports io (io imports the model).
    writer: ClassVar[Callable[..., None]]

    # How the fields were built: the stored rows they were read from, if any,
    # and the dask name each lazy field had then (see ``_edited``).
    _built: tuple[StoredSelection | None, dict[str, str]]
    # The stored rows the showers are, row for row, even after in-place edits
    # (which change values, not rows): what ``sources`` and ``locate`` tell.
    _origin: StoredSelection | None = None
    _attrs: dict[str, Any]

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_built", (None, {}))
        object.__setattr__(self, "_attrs", dict(attrs or {}))

    @property
    def attrs(self) -> dict[str, Any]:
        """Provenance and user metadata, as xarray's ``attrs``: a plain dict.

        :func:`~showerdata.load` fills it from the file's root attributes
        (``clustered_for``, ``observables_computed_for``, your own; not the
        ``showerdata_*`` ones). Selections, ``compute``, ``persist``, ``chunk``
        and ``copy`` keep it; the operations return showers with their step
        added (``clustered_for``, ``filtered_with``, ``shifted``) and never
        change the attrs of their input; :func:`~showerdata.save` writes it as
        root attributes, which showerdata 0.7 reads. Values must be str, int,
        float or bool.

        Examples
        --------
        >>> import numpy as np, showerdata
        >>> showers = showerdata.Showers(np.ones((2, 1, 4)), np.ones(2), 22)
        >>> showers.attrs["campaign"] = "test beam"
        >>> showerdata.cluster(showers, random_shift=False).attrs
        {'campaign': 'test beam', 'clustered_for': 'ILD'}
        """
        return self._attrs

    @attrs.setter
    def attrs(self, value: dict[str, Any]) -> None:
        object.__setattr__(self, "_attrs", dict(value))

    def assign_attrs(self: B, **attrs: Any) -> B:
        """Return the same data with ``attrs`` updated; ``self`` is unchanged.

        The fields are shared, not copied. A value of None removes that key.

        Examples
        --------
        >>> import numpy as np, showerdata
        >>> showers = showerdata.Showers(np.ones((2, 1, 4)), np.ones(2), 22)
        >>> showers.assign_attrs(campaign="test beam").attrs
        {'campaign': 'test beam'}
        >>> showers.attrs
        {}
        """
        merged = {**self.attrs, **attrs}
        return type(self)._from_fields(
            self._fields(),
            source=self._source,
            origin=self._origin,
            attrs={k: v for k, v in merged.items() if v is not None},
        )

    @classmethod
    def _from_fields(
        cls: type[B],
        fields: dict[str, Any],
        source: StoredSelection | None = None,
        origin: StoredSelection | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> B:
        """Build a bundle from fields that are already converted and checked.

        ``origin``: the stored rows the fields hold row for row (default
        ``source``), kept for :attr:`sources` when they are not read from it.
        ``attrs`` is copied.
        """
        bundle = cls.__new__(cls)
        for name in cls.FIELDS:
            object.__setattr__(bundle, name, fields[name])
        bundle._remember_fields(source)
        object.__setattr__(bundle, "_origin", origin or source)
        object.__setattr__(bundle, "_attrs", dict(attrs or {}))
        return bundle

    def _remember_fields(self, source: StoredSelection | None = None) -> None:
        """Take the fields as they are now as built (converted and checked)."""
        names = {name: _name(getattr(self, name)) for name in self.FIELDS}
        object.__setattr__(self, "_built", (source, names))

    def _edited(self) -> set[str]:
        """The lazy fields edited in place or replaced since the bundle was built.

        dask's item assignment (``s.energies[0, 0] = 99``) keeps the array
        object but gives it a new graph and a new name, so names are compared.
        """
        _, names = self._built
        return {n for n in self.FIELDS if _name(getattr(self, n)) != names.get(n)}

    @property
    def _source(self) -> StoredSelection | None:
        """The stored rows the fields hold, while they hold nothing else; else None.

        Indexing and ``compute`` read such rows straight from the file. That is
        right only while no field has been edited: reading the file again
        would silently drop the edit, so an edited bundle goes through its
        fields.
        """
        source, _ = self._built
        return None if source is None or self._edited() else source

    def __setattr__(self, name: str, value: Any) -> None:
        # A reassigned field no longer matches the stored rows, so selections
        # must go through the fields from now on.
        if name in self.FIELDS:
            object.__setattr__(self, "_built", (None, self._built[1]))
            if not hasattr(value, "shape"):  # a list: an array, as in the constructor
                value = np.asarray(value)
            value = _aligned_like(getattr(self, name, None), value)
        object.__setattr__(self, name, value)

    def _fields(self) -> dict[str, Any]:
        """The fields as they are computed, indexed, processed and written."""
        return {name: getattr(self, name) for name in self.FIELDS}

    # -- form -------------------------------------------------------------------

    @property
    def is_lazy(self) -> bool:
        """True when the fields are dask arrays, False when they are numpy."""
        return is_lazy_array(getattr(self, self.FIELDS[0]))

    @property
    def chunks(self) -> tuple[int, ...] | None:
        """Chunk lengths along the shower axis, or None for in-memory data."""
        first = getattr(self, self.FIELDS[0])
        return first.chunks[0] if is_lazy_array(first) else None

    @property
    def nbytes(self) -> int:
        """Total size of all fields in bytes (padded, as in memory)."""
        return int(sum(getattr(self, name).nbytes for name in self.FIELDS))

    def compute(self: B, **kwargs: Any) -> B:
        """Return the in-memory form, computing all fields in one pass.

        Keyword arguments go to :func:`dask.compute` (e.g. ``scheduler=``).

        Raises
        ------
        ShowerDataError
            The result (padded, all fields) would be larger than
            ``showerdata.max-compute-bytes`` (see
            :func:`showerdata.config.max_compute_bytes`); raised before
            anything is read.
        """
        if not self.is_lazy:
            return type(self)._from_fields(
                self._fields(), origin=self._origin, attrs=self.attrs
            )
        self._check_compute_size()
        return self._compute(**kwargs)

    def _check_compute_size(self) -> None:
        limit = max_compute_bytes()
        size = self.nbytes
        if limit is None or size <= limit:
            return
        noun = "showers" if "points" in self.FIELDS else "particles"
        per_row = max(1, size // max(1, len(self)))
        fits = max(1, limit // per_row)
        raise ShowerDataError(
            f"computing these {len(self):,} {noun} would hold {format_bytes(size)} "
            f"in memory (padded arrays), more than showerdata.max-compute-bytes = "
            f"{format_bytes(limit)}. Instead: write them with {noun}.save(path), "
            f"which computes and writes chunk by chunk; compute a part, e.g. "
            f"{noun}[:{fits}].compute(), or loop over such slices; or raise the "
            f"limit: dask.config.set({{{MAX_COMPUTE_BYTES_KEY!r}: "
            f"'{_round_up_gib(size)}GiB'}}) (None disables the check)."
        )

    def _compute(self: B, **kwargs: Any) -> B:
        """:meth:`compute` without the size check, for reads of one chunk."""
        source, origin, attrs = self._source, self._origin, self.attrs
        if source is not None and not kwargs:
            # Rows of a file: read them straight into the result, no scheduler.
            read = source.read()
            return type(self)._from_fields(read._fields(), origin=origin, attrs=attrs)
        if len(self.chunks or ()) == 1 or kwargs:
            values = compute(*self._fields().values(), **kwargs)
            fields = dict(zip(self.FIELDS, values, strict=True))
            return type(self)._from_fields(fields, origin=origin, attrs=attrs)
        return type(self)._from_fields(
            self._compute_into_arrays(), origin=origin, attrs=attrs
        )

    def _compute_into_arrays(self) -> dict[str, np.ndarray]:
        # Filling preallocated arrays avoids the extra copy (and twice the peak
        # memory) of dask concatenating all chunks at the end.
        fields = self._fields()
        # Not np.empty: numpy advises huge pages, and fresh huge pages cost up
        # to 10x the small pages of a map (see showerdata.buffers).
        out = {n: zeros(a.shape, a.dtype) for n, a in fields.items()}
        scheduler = local_scheduler() or dask.base.get_scheduler(
            collections=list(fields.values())
        )
        if scheduler in (dask.threaded.get, dask.local.get_sync):
            # Same process: tasks may write into our arrays directly. Fields of
            # equal values (e.g. pdg and shower_ids all zero) can share one
            # from_array graph: each graph is computed once and copied.
            first_of: dict[str, str] = {}
            for name, array in fields.items():
                first_of.setdefault(array.name, name)
            unique = list(first_of.values())
            with filling({fields[n].name: out[n] for n in unique}):
                compute_into([fields[n] for n in unique], [out[n] for n in unique])
            for name, array in fields.items():
                if first_of[array.name] != name:
                    out[name][...] = out[first_of[array.name]]
            return out
        from .streaming import iter_blocks

        for start, block in iter_blocks(fields):
            for name, values in block.items():
                out[name][start : start + len(values)] = values
        return out

    def persist(self: B, **kwargs: Any) -> B:
        """Keep the lazy form but hold the computed chunks in (cluster) memory."""
        if not self.is_lazy:
            return type(self)._from_fields(
                self._fields(), origin=self._origin, attrs=self.attrs
            )
        values = persist(*self._fields().values(), **kwargs)
        fields = dict(zip(self.FIELDS, values, strict=True))
        return type(self)._from_fields(fields, origin=self._origin, attrs=self.attrs)

    def chunk(self: B, chunks: int | str | Sequence[int] = "auto") -> B:
        """Return the lazy form with the given chunk length along showers.

        ``"auto"`` picks a length giving about ``showerdata.chunk-bytes`` per
        chunk of the largest field.
        """
        if chunks == "auto":
            chunks = self._auto_chunk_length()
        fields = {
            name: _rechunk_rows(getattr(self, name), chunks) for name in self.FIELDS
        }
        return type(self)._from_fields(fields, origin=self._origin, attrs=self.attrs)

    def _auto_chunk_length(self) -> int:
        # Every bundle has directions, so this is at least 12 bytes.
        per_shower = max(
            int(np.prod(getattr(self, name).shape[1:])) * 4 for name in self.FIELDS
        )
        return max(1, chunk_bytes() // per_shower)

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> None:
        """Save to a new file; lazy data is computed and written chunk by chunk.

        Parameters
        ----------
        path : str or os.PathLike
            Destination file.
        overwrite : bool
            Replace an existing file; otherwise raise :class:`FileExistsError`.
        """
        Bundle.writer(self, path, overwrite=overwrite)

    # -- container protocol -----------------------------------------------------

    def __len__(self) -> int:
        return int(getattr(self, self.FIELDS[0]).shape[0])

    def __getitem__(self: B, index: IndexLike) -> B:
        selection = normalize_index(index, len(self))
        source = self._source
        if source is not None:
            selected = source.select(selection)
            object.__setattr__(selected, "_attrs", dict(self.attrs))
            return selected  # type: ignore[return-value]
        return self._select_fields(selection)

    def _select_fields(self: B, selection: Selection) -> B:
        fields = {name: a[selection] for name, a in self._fields().items()}
        if self.is_lazy:
            fields = _drop_empty_chunks(fields)
        origin = self._origin
        narrowed = None if origin is None else origin.narrowed(selection)
        return type(self)._from_fields(fields, origin=narrowed, attrs=self.attrs)

    # -- provenance -------------------------------------------------------------

    @property
    def sources(self) -> list[Source] | None:
        """The files the rows come from: ``(path, num_showers)`` in row order.

        Showers opened with ``load`` know their files; indexing, slicing,
        ``compute``, ``persist``, ``chunk``, ``copy`` and in-place edits keep
        that knowledge (a selection counts only its own rows, and lists only
        the files it touches). Operations that may drop, add or reorder rows
        (filter, cluster, concatenate, ``+``, a new ``Showers(...)``) give
        showers that come from no file: ``None``.

        Examples
        --------
        >>> showers = showerdata.load("prod/part-*.h5")  # doctest: +SKIP
        >>> showers.sources  # doctest: +SKIP
        [Source(path='prod/part-1.h5', num_showers=1000), ...]
        """
        origin = self._origin
        return None if origin is None else origin.sources()

    def locate(self, index: int) -> tuple[str, int]:
        """Which file and row shower ``index`` was read from.

        Parameters
        ----------
        index : int
            Position of the shower here (negative counts from the end).

        Returns
        -------
        tuple of (str, int)
            Path of the file and row of the shower in it.

        Raises
        ------
        IndexError
            ``index`` is out of range.
        ValueError
            The showers come from no file (see :attr:`sources`).

        Examples
        --------
        >>> showers = showerdata.load(["a.h5", "b.h5"])  # doctest: +SKIP
        >>> showers.locate(len(showers) - 1)  # doctest: +SKIP
        ('b.h5', 999)
        """
        origin = self._origin
        if origin is None:
            raise ValueError(
                "these showers come from no file (they were built in memory or by "
                "an operation that may drop or reorder rows); locate() needs "
                "showers opened with load()."
            )
        position = normalize_index(int(index), len(self))
        assert isinstance(position, slice)
        return origin.locate(position.start)

    def __iter__(self: B) -> Iterator[B]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return False
        pairs = [(getattr(self, n), getattr(other, n)) for n in self.FIELDS]
        if any(a.shape != b.shape for a, b in pairs):
            return False
        if not (self.is_lazy or other.is_lazy):
            return all(np.array_equal(a, b) for a, b in pairs)
        checks = [da.all(da.asarray(a) == da.asarray(b)) for a, b in pairs]
        return bool(all(compute(*checks)))

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value


def _name(array: Any) -> str | None:
    """The dask name of a lazy field; None for a numpy one."""
    return array.name if is_lazy_array(array) else None


def _round_up_gib(size: int) -> int:
    return -(-size // 2**30)


#: numpy 2 added ``copy`` to :func:`numpy.asarray`; numpy 1.26 has only ``np.array``'s.
_ASARRAY_TAKES_COPY = np.lib.NumpyVersion(np.__version__) >= "2.0.0"


def as_field(
    array: Any,
    dtype: type | np.dtype,
    *,
    copy: bool | None = None,
) -> Any:
    """``array`` as numpy or dask array of ``dtype`` (dask arrays stay lazy).

    ``copy`` means what it means to numpy 2's :func:`numpy.asarray`: True always
    copies, None copies when needed, False raises :class:`ValueError` when a copy
    is needed.
    """
    if is_lazy_array(array):
        return array if array.dtype == dtype else array.astype(dtype)
    if _ASARRAY_TAKES_COPY:
        return np.asarray(array, dtype=dtype, copy=copy)
    # numpy 1.26 only: the lowest-versions run of `make test` tests it; the
    # mutation run has numpy 2, which never gets here.
    # pragma: no mutate block
    if copy:
        return np.array(array, dtype=dtype, copy=True)
    result = np.asarray(array, dtype=dtype)
    if copy is False and not (
        isinstance(array, np.ndarray) and np.may_share_memory(result, array)
    ):
        raise ValueError("Unable to avoid copy while creating an array as requested.")
    return result


def align_lazy(fields: dict[str, Any]) -> dict[str, Any]:
    """Make every field lazy with the chunking of the first lazy one."""
    reference = next(f for f in fields.values() if is_lazy_array(f))
    chunks = reference.chunks[0]
    return {name: _rechunk_rows(array, chunks) for name, array in fields.items()}


def _aligned_like(old: Any, new: Any) -> Any:
    """``new`` chunked along showers like the lazy field ``old`` it replaces.

    Writers and ``compute`` take the blocks of all fields chunk by chunk, so a
    reassigned field with another chunking (``s.energies = s.energies.rechunk(5)``)
    or in numpy form would pair the points of one shower range with the energies
    of another. Values of another length are left alone: the user may be
    replacing the fields one after the other.
    """
    if not is_lazy_array(old) or not new.shape:
        return new
    if any(np.isnan(d) for d in new.shape) or new.shape[0] != old.shape[0]:
        return new
    if is_lazy_array(new) and new.chunks[0] == old.chunks[0]:
        return new
    return _rechunk_rows(new, old.chunks[0])


def _drop_empty_chunks(fields: dict[str, da.Array]) -> dict[str, da.Array]:
    """Merge away the empty chunks slicing leaves (``x[:5:5]`` has chunks (1, 0)).

    They are useless tasks, and dask's fancy indexing fails on an axis with more
    chunks than elements ("range() arg 3 must not be zero").
    """
    chunks = next(iter(fields.values())).chunks[0]
    kept = tuple(c for c in chunks if c) or (0,)
    if kept == chunks:
        return fields
    return {name: rechunk(array, {0: kept}) for name, array in fields.items()}


def _rechunk_rows(array: Any, chunks: int | Sequence[int]) -> da.Array:
    """Chunk ``array`` along the shower axis only; other axes stay whole."""
    spec = {0: chunks, **{axis: -1 for axis in range(1, array.ndim)}}
    if is_lazy_array(array):
        return rechunk(array, spec)
    first = chunks if isinstance(chunks, int) else tuple(chunks)
    return da.from_array(array, chunks=(first,) + (-1,) * (array.ndim - 1))
