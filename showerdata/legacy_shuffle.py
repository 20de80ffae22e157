"""showerdata 0.7's shuffle functions, as :mod:`showerdata.shuffle` exposes them.

They draw from numpy's global random state exactly as 0.7 did, so a 0.7
program that seeds it gets 0.7's order. They read and write through the public
API (:class:`~showerdata.ShowerDataFile`, :func:`~showerdata.save_batch`) and
hold one batch in memory; our own out-of-core shuffle is
:func:`showerdata.shuffle.shuffle_files`.
"""

from __future__ import annotations

import os

import numpy as np

from .legacy_cli import add_shuffle_options as add_parser_options
from .legacy_cli import parse_shuffle_arguments as parse_args
from .legacy_cli import run_shuffle as main

__all__ = [
    "add_parser_options",
    "create_shuffled_indices",
    "get_file_info",
    "load_batch_by_indices",
    "main",
    "parse_args",
    "process_in_batches",
]

PathLike = str | os.PathLike[str]


def get_file_info(
    input_files: list[str], max_showers_per_file: int | None = None
) -> list[tuple[str, int]]:
    """(path, number of showers taking part) of each input.

    Parameters
    ----------
    input_files : list of str
        Shower files.
    max_showers_per_file : int, optional
        Use at most this many showers of each file.
    """
    from .io.api import get_file_shape

    info = []
    for path in input_files:
        count = get_file_shape(path)[0]
        if max_showers_per_file is not None:
            count = min(count, max_showers_per_file)
        info.append((path, count))
    return info


def create_shuffled_indices(
    file_info: list[tuple[str, int]], seed: int | None = None
) -> list[tuple[str, int]]:
    """Every (path, row) of the inputs in a random order.

    ``seed`` seeds numpy's global random state first, as 0.7 did, so the order
    is 0.7's for the same seed.
    """
    if seed is not None:
        np.random.seed(seed)  # noqa: NPY002 (0.7's global state, on purpose)
    pairs = np.array(
        [(path, row) for path, count in file_info for row in range(count)],
        dtype=object,
    )
    order = np.random.permutation(len(pairs))  # noqa: NPY002
    return pairs[order].tolist()


def load_batch_by_indices(batch_indices: list[tuple[str, int]]) -> object:
    """In-memory showers of the given (path, row) pairs, in a random order.

    Rows are read per file in file order, then permuted with numpy's global
    random state (as 0.7 did).
    """
    from .io.datafile import ShowerDataFile
    from .showers import concatenate

    rows_of: dict[str, list[int]] = {}
    for path, row in batch_indices:
        rows_of.setdefault(path, []).append(int(row))
    parts = []
    for path, rows in rows_of.items():
        with ShowerDataFile(path) as file:
            parts.append(file[sorted(rows)])
    combined = concatenate(parts)
    return combined[np.random.permutation(len(combined))]  # noqa: NPY002


def process_in_batches(
    shuffled_indices: list[tuple[str, int]],
    output_file: str,
    batch_size: int,
    shape: tuple[int, int, int],
    overwrite: bool = True,
    overwrite_ids: bool = False,
) -> None:
    """Write the showers of ``shuffled_indices`` to a new file, a batch at a time.

    Parameters
    ----------
    shuffled_indices : list of (str, int)
        From :func:`create_shuffled_indices`.
    output_file : str
        File to create (``shape`` = (N, P, F)).
    batch_size : int
        Showers read and written together.
    overwrite : bool
        Replace an existing output.
    overwrite_ids : bool
        Number the showers 0 .. N-1 in output order.
    """
    from .io.api import create_empty_file, save_batch

    create_empty_file(output_file, shape=shape, overwrite=overwrite)
    for first in range(0, len(shuffled_indices), batch_size):
        last = min(first + batch_size, len(shuffled_indices))
        batch = load_batch_by_indices(shuffled_indices[first:last])
        if overwrite_ids:
            batch.shower_ids = np.arange(first, last, dtype=np.int32)
        save_batch(batch, output_file, start=first)
