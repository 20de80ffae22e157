"""Exceptions that say where bad data lives: file, dataset and shower index."""

from __future__ import annotations

import os
from collections.abc import Sequence


class ShowerDataError(ValueError):
    """Invalid shower data, located as precisely as we know.

    Subclasses :class:`ValueError`, the type showerdata 0.7 raised for the same
    mistakes, so existing ``except ValueError`` clauses keep working.

    Attributes
    ----------
    path : str or None
        File or store the data came from, if any.
    dataset : str or None
        Dataset (field) inside the file, e.g. ``"showers"``.
    index : int or None
        Global index of the first offending shower.
    v07_message : str or None
        What showerdata 0.7 said for the same mistake, if it checked it: the
        message starts with it, so code matching 0.7's text keeps working.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | os.PathLike[str] | None = None,
        dataset: str | None = None,
        index: int | None = None,
        v07_message: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = None if path is None else os.fspath(path)
        self.dataset = dataset
        self.index = index
        self.v07_message = v07_message
        text = describe(problem, path=path, dataset=dataset, index=index)
        super().__init__(f"{v07_message} {text}" if v07_message else text)

    def __reduce__(self):  # keep the fields when dask ships the error between processes
        return (
            _rebuild,
            (self.problem, self.path, self.dataset, self.index, self.v07_message),
        )


def _rebuild(problem, path, dataset, index, v07_message=None):
    return ShowerDataError(
        problem, path=path, dataset=dataset, index=index, v07_message=v07_message
    )


def describe(
    problem: str,
    *,
    path: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
    index: int | None = None,
) -> str:
    """Prefix ``problem`` with the location it was found at."""
    where = []
    if path is not None:
        where.append(f"file '{os.fspath(path)}'")
    if dataset is not None:
        where.append(f"dataset '{dataset}'")
    if index is not None:
        where.append(f"shower {index}")
    return f"{', '.join(where)}: {problem}" if where else problem


def describe_showers(rows: Sequence[int], most: int = 3) -> str:
    """Rows as runs: ``"showers 10 to 19 and 40 to 49"``, ``"shower 7"``.

    Beyond ``most`` runs, the rest are counted (``"and 4 more runs"``).
    """
    values = sorted({int(row) for row in rows})
    if not values:
        return "no showers"
    runs: list[list[int]] = []
    for row in values:
        if runs and row == runs[-1][1] + 1:
            runs[-1][1] = row
        else:
            runs.append([row, row])
    parts = [f"{a} to {b}" if b > a else f"{a}" for a, b in runs[:most]]
    if len(runs) > most:
        parts.append(f"{len(runs) - most} more runs")
    single = len(values) == 1
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"shower{'' if single else 's'} {listed}"


class MissingDataError(KeyError, ValueError):
    """A dataset or attribute the layout requires is not in the file.

    Both a :class:`KeyError` (what 0.7's readers raised) and a
    :class:`ValueError` (what 0.7's ``get_file_shape`` raised).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # KeyError would print the message quoted
        return self.message
