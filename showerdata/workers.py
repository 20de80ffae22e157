"""Getting a dask worker process ready: ``dask worker --preload showerdata.workers``.

numba sets up its typing and lowering tables when a process runs its first
kernel -- 0.2 to 0.25 s holding the GIL, even with every kernel in the on-disk
cache. A worker that preloads this module imports showerdata and pays that
while the cluster starts, not in its first task. The clusters the CLI starts
preload it; add it to the workers of a cluster of your own (e.g. dask-jobqueue's
``worker_extra_args=["--preload", "showerdata.workers"]``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .kernels.layout import count_real_points


def warm_up() -> None:
    """Run one small kernel, so that numba's one-time setup is done in this process."""
    count_real_points(np.zeros((1, 1, 4), np.float32))


def dask_setup(service: Any) -> None:
    """The hook distributed calls on a preloading worker (see the module docs)."""
    warm_up()
