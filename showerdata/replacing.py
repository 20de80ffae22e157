"""Writing a file so that readers see the old one or the new one, never a part."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


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


#: Bytes per write() call. The kernel caches a larger write in larger folios,
#: for which it splits large blocks of free memory; on the VM this was
#: measured on, those blocks had often been handed back to the host, so every
#: first touch faulted there too. Writing 12 chunk files of 35 MB cost 0.15 to
#: 0.2 s in 16 KiB calls and 0.2 to 1.9 s (varying run to run) in 64 KiB to
#: 35 MB calls.
WRITE_PIECE_BYTES = 16 * 2**10


def write_file(path: str, data: bytes | memoryview | np.ndarray) -> None:
    """Write ``data`` to ``path`` through :func:`replacing`, in modest pieces."""
    view = memoryview(data).cast("B")
    with replacing(path) as partial, open(partial, "wb") as handle:
        for first in range(0, len(view), WRITE_PIECE_BYTES):
            handle.write(view[first : first + WRITE_PIECE_BYTES])
