"""Output patterns: ``out/part-{:05d}.h5`` names one file per partition.

A pattern is a local path with one ``str.format`` field for the file number,
in the file name. The files of a pattern are found on disk by number, and
their index is named after the pattern.
"""

from __future__ import annotations

import glob
import os
import re
import string
from typing import Any


def is_pattern(path: Any) -> bool:
    """Whether ``path`` is an output pattern: a local path with a ``{}`` field.

    Examples
    --------
    >>> is_pattern("out/part-{:05d}.h5"), is_pattern("out/all.h5")
    (True, False)
    """
    if not isinstance(path, (str, os.PathLike)):
        return False
    text = os.fspath(path)
    return "://" not in text and len(_fields(text)) > 0


def _fields(text: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:  # an unmatched brace: a plain path
        return []
    return [field for _, field, _, _ in parsed if field is not None]


def check_pattern(pattern: str) -> None:
    """Raise :class:`ValueError` unless ``pattern`` has one integer field.

    The field must number the files apart (``{}``, ``{:05d}``), and only in
    the file name, not in a directory.
    """
    fields = _fields(pattern)
    if len(fields) != 1 or fields[0] not in ("", "0"):
        raise ValueError(
            f"an output pattern has one field for the file number, like "
            f"'out/part-{{:05d}}.h5'; got '{pattern}'."
        )
    try:
        first, second = pattern.format(0), pattern.format(1)
    except (ValueError, IndexError, KeyError) as error:
        raise ValueError(
            f"output pattern '{pattern}' does not format a file number: {error}"
        ) from None
    if first == second or os.path.dirname(first) != os.path.dirname(second):
        raise ValueError(
            f"output pattern '{pattern}' must number the files in their names "
            f"(it gives '{first}' and '{second}')."
        )


def index_path(pattern: str) -> str:
    """The index written beside the files of ``pattern``.

    The file name's text before the field, without trailing ``-_.``, then
    ``.index.json`` (``index.json`` if nothing is left).

    Examples
    --------
    >>> index_path("out/part-{:05d}.h5")
    'out/part.index.json'
    """
    directory, name = os.path.split(pattern)
    prefix = name[: name.index("{")].rstrip("-_. ")
    return os.path.join(directory, f"{prefix}.index.json" if prefix else "index.json")


def existing_parts(pattern: str) -> dict[int, str]:
    """Files or stores on disk that ``pattern`` names, by number."""
    head, _, tail = pattern.partition("{")
    tail = tail.partition("}")[2]
    expression = re.compile(re.escape(head) + r"\s*[-+]?\d+" + re.escape(tail) + "$")
    found = {}
    for path in glob.glob(glob.escape(head) + "*" + glob.escape(tail)):
        if expression.match(path):
            number = int(re.sub(r"\D", "", path[len(head) : len(path) - len(tail)]))
            if pattern.format(number) == path:
                found[number] = path
    return found


__all__ = ["check_pattern", "existing_parts", "index_path", "is_pattern"]
