"""The rules for ``attrs``: what a file's root attributes give, keep and take.

``Showers.attrs`` holds the provenance of the data (``clustered_for``,
``filtered_with``, ``shifted``, ``observables_computed_for``) and user
metadata. :func:`showerdata.load` fills it from the root attributes of a file,
:func:`showerdata.save` writes it back as root attributes, in the layout
showerdata 0.7 reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

#: Types a root attribute may have: HDF5 stores them natively, zarr as JSON.
ATTRIBUTE_TYPES = (str, int, float, bool, np.generic)

#: Prefix of the attributes a writer sets itself (``showerdata_version``):
#: they describe the file, not the showers, and are never carried.
WRITER_PREFIX = "showerdata_"

#: Attributes about what else a file holds, true of that file only: ``load``
#: reports them, ``save`` does not write them (it writes no observables) and
#: operations that change the points drop them.
ABOUT_THE_FILE = frozenset({"observables_computed_for"})


def attrs_from_file(root: Mapping[str, Any]) -> dict[str, Any]:
    """The ``attrs`` of showers read from a file with these root attributes.

    Only str, int, float and bool values are taken (numpy scalars as Python
    ones), since only those can be written again; others (arrays set with
    h5py) stay readable with :func:`showerdata.load_metadata`.
    """
    attrs = {}
    for key, value in root.items():
        if key.startswith(WRITER_PREFIX) or not isinstance(value, ATTRIBUTE_TYPES):
            continue
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(value, bytes):
            try:
                value = value.decode()
            except UnicodeDecodeError:
                continue
        attrs[key] = value
    return attrs


def attrs_to_write(attrs: Mapping[str, Any], what: str = "attrs") -> dict[str, Any]:
    """The root attributes ``save`` writes for ``attrs``, as plain Python values.

    Raises
    ------
    TypeError
        A key that is not a str, or a value that is not str, int, float or
        bool (nothing is pickled); raised before anything is written.
    """
    checked = checked_attributes(attrs, what)
    return {
        k: v
        for k, v in checked.items()
        if not k.startswith(WRITER_PREFIX) and k not in ABOUT_THE_FILE
    }


def checked_attributes(attrs: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``attrs`` with numpy scalars as Python ones; TypeError for other types."""
    checked = {}
    for key, value in attrs.items():
        if not isinstance(key, str):
            raise TypeError(f"{what} keys must be str, got {key!r}.")
        if not isinstance(value, ATTRIBUTE_TYPES):
            raise TypeError(
                f"{what} '{key}' must be str, int, float or bool, not "
                f"{type(value).__name__}."
            )
        # zarr stores attributes as JSON, which knows no numpy scalars.
        checked[key] = value.item() if isinstance(value, np.generic) else value
    return checked


def after_points_changed(attrs: Mapping[str, Any], **step: Any) -> dict[str, Any]:
    """``attrs`` of the result of an operation that changed the points.

    What described the old points only is dropped (see ``ABOUT_THE_FILE``);
    ``step`` records the operation (a value of None removes that key).
    """
    kept = {k: v for k, v in attrs.items() if k not in ABOUT_THE_FILE}
    kept.update(step)
    return {k: v for k, v in kept.items() if v is not None}


def shared_attributes(each: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The attributes every mapping has with the same value."""
    mappings = list(each)
    if not mappings:
        return {}
    shared = dict(mappings[0])
    for attrs in mappings[1:]:
        shared = {
            key: value
            for key, value in shared.items()
            if key in attrs and same_value(attrs[key], value)
        }
    return shared


def same_value(a: Any, b: Any) -> bool:
    """Whether two attribute values are equal (arrays element by element)."""
    if type(a) is type(b) and isinstance(a, (str, int, float, bool)):
        return a == b
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except Exception:
        return a == b
