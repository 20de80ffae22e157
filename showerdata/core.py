"""Compatibility module: the names showerdata 0.7 user code imports from here."""

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
from .io.datafile import ShowerDataFile
from .showers import IncidentParticles, Showers, concatenate

__all__ = [
    "IncidentParticles",
    "ShowerDataFile",
    "Showers",
    "add_metadata",
    "add_target_dataset",
    "concatenate",
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
