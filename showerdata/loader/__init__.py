"""Training batches: a pure plan of which rows go where, read window by window.

- ``plan``: which rows each rank yields in which batch (no I/O);
- ``reading``: reading a window of rows and cutting it into batches;
- ``prefetch``: a bounded background thread;
- ``loader``: the public :class:`Loader`;
- ``torch_dataset``: the loader as a torch ``IterableDataset`` (imports torch).
"""

from .loader import Loader

__all__ = ["Loader"]
