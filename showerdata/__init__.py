"""showerdata: lazy, chunked storage and processing of calorimeter showers.

Open a production lazily, look at one shower, compute what you need::

    import showerdata
    showers = showerdata.load("production.h5")   # reads only the layout
    one = showers[7_000_123].compute()           # reads one shower
"""

from . import config, detector, observables
from ._version import __version__
from .errors import MissingDataError, ShowerDataError
from .io.api import (
    add_metadata,
    add_target_dataset,
    create_empty_file,
    get_file_length,
    get_file_shape,
    load,
    load_inc_particles,
    load_metadata,
    load_target,
    save,
    save_batch,
    save_target,
    save_target_batch,
)
from .io.convert import convert
from .io.datafile import ShowerDataFile
from .io.files import close_files
from .io.index import write_index
from .loader import Loader
from .ops.clustering import cluster
from .ops.filtering import filter_showers
from .ops.shifting import shift
from .showers import IncidentParticles, Showers, concatenate

#: Submodules 0.7 code reaches as attributes (``showerdata.core.load_metadata``)
#: without importing them: 0.7's package imported them itself. We import them
#: on first use, so ``import showerdata`` stays light.
_SUBMODULES_ON_DEMAND = ("core", "filter", "cluster_module", "shift_showers", "shuffle")


def __getattr__(name: str) -> object:
    if name in _SUBMODULES_ON_DEMAND:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "IncidentParticles",
    "Loader",
    "MissingDataError",
    "ShowerDataError",
    "ShowerDataFile",
    "Showers",
    "__version__",
    "add_metadata",
    "cluster",
    "detector",
    "filter_showers",
    "observables",
    "shift",
    "add_target_dataset",
    "close_files",
    "concatenate",
    "convert",
    "config",
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
    "write_index",
]
