"""showerdata.Loader with torch: tensors, and a DataLoader with workers.

Marked ``torch``: the environments without torch (Python 3.13) deselect them
with ``-m "not torch"`` (see the Makefile).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_loader import FILE_SIZES, check_batch, digest, reference

import showerdata

pytestmark = pytest.mark.torch


def as_numpy(batch: dict) -> dict:
    return {name: value.numpy() for name, value in batch.items()}


def test_torch_format_gives_tensors_of_the_same_values(loader_production):
    import torch

    settings = dict(batch_size=16, shuffle="blocks", seed=5, block_size=7)
    tensors = list(showerdata.Loader(loader_production, format="torch", **settings))
    arrays = list(showerdata.Loader(loader_production, **settings))
    assert all(isinstance(v, torch.Tensor) for b in tensors for v in b.values())
    assert digest(as_numpy(b) for b in tensors) == digest(arrays)
    for batch in tensors:
        check_batch(as_numpy(batch), reference(loader_production))


def test_dataloader_workers_give_the_same_batches_in_a_fixed_order(loader_production):
    from torch.utils.data import DataLoader

    settings = dict(batch_size=8, shuffle="exact", seed=2, block_size=10)
    loader = showerdata.Loader(loader_production, **settings)
    loader.set_epoch(4)
    alone = digest(loader)

    def with_workers() -> list[str]:
        dataset = showerdata.Loader(loader_production, **settings).torch_dataset()
        dataset.set_epoch(4)
        batches = DataLoader(dataset, batch_size=None, num_workers=2)
        return digest(as_numpy(b) for b in batches)

    first = with_workers()
    assert sorted(first) == sorted(alone)
    assert len(first) == len(alone) == -(-sum(FILE_SIZES) // 8)
    assert with_workers() == first
    seen = np.concatenate(
        [
            b["index"].numpy()
            for b in showerdata.Loader(loader_production, **settings).torch_dataset()
        ]  # fmt: skip
    )
    assert sorted(seen.tolist()) == list(range(sum(FILE_SIZES)))
