"""The loader as a ``torch.utils.data.IterableDataset`` (imports torch)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import torch.utils.data

from .loader import Loader


class ShowerBatches(torch.utils.data.IterableDataset):
    """Batches of a :class:`~showerdata.Loader`, shared out over DataLoader workers.

    Worker ``w`` of ``n`` yields batches ``[K*w//n, K*(w+1)//n)`` of the rank's
    ``K`` batches of the epoch, so each worker reads only its own windows. A
    ``DataLoader`` interleaves the workers' batches in a fixed order: the same
    batches, in the same order on every run. Batches are torch tensors.
    """

    def __init__(self, loader: Loader) -> None:
        super().__init__()
        self.loader = copy.copy(loader)  # the caller's loader keeps its format
        self.loader.format = "torch"

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration yields (before creating the iterator)."""
        self.loader.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        total = len(self.loader)
        info = torch.utils.data.get_worker_info()
        if info is None:
            return self.loader.batches(0, total)
        first = total * info.id // info.num_workers
        stop = total * (info.id + 1) // info.num_workers
        return self.loader.batches(first, stop)


__all__ = ["ShowerBatches"]
