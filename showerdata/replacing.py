"""Writing a file so that readers see the old one or the new one, never a part."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def replacing(path: str) -> Iterator[str]:
    """A temporary path beside ``path``, renamed to ``path`` when the block succeeds.

    On an error (or a kill) nothing at ``path`` changes; the temporary file is
    removed, or left behind under a hidden ``.<name>.<hex>.partial`` name.
    """
    directory, name = os.path.split(os.path.abspath(path))
    partial = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
