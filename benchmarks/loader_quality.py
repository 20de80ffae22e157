"""Shuffle quality of the Loader: distinct files per batch, one energy per file.

Pure plan arithmetic, no files: a production of FILES files of SHOWERS showers,
each file holding one incident energy, chunked as ``load`` chunks P = 2000,
F = 5 (1,677 showers per chunk). For each shuffle, the mean number of distinct
energies in a batch of 256 is compared with a uniform random permutation's.

    .venv/bin/python benchmarks/loader_quality.py
"""

from __future__ import annotations

import numpy as np

from showerdata.config import chunk_lengths, showers_per_chunk
from showerdata.loader.plan import plan_rank

FILES, SHOWERS, BATCH = 100, 10_000, 256


def distinct_per_batch(batches: list[np.ndarray]) -> float:
    return float(np.mean([len(np.unique(b // SHOWERS)) for b in batches]))


def main() -> None:
    chunk = showers_per_chunk(2000, 5)
    chunks = [c for _ in range(FILES) for c in chunk_lengths(SHOWERS, chunk)]
    total = FILES * SHOWERS
    uniform = np.random.default_rng(0).permutation(total)
    reference = distinct_per_batch(
        [uniform[a : a + BATCH] for a in range(0, total, BATCH)]
    )
    print(f"{FILES} files x {SHOWERS:,} showers, chunks of {chunk}, batch {BATCH}")
    print("| shuffle | block | window | energies per batch | of uniform |")
    print("|---|---|---|---|---|")
    settings = [
        ("none", None, 1),
        ("blocks", None, 4),
        ("blocks", None, 16),
        ("blocks", 64, 16),
        ("blocks", 32, 64),
        ("exact", None, 1),
    ]
    for shuffle, block, window in settings:
        plan = plan_rank(
            chunks, batch_size=BATCH, shuffle=shuffle, block_size=block or
            max(1, -(-chunk // window)), window=window,
        )  # fmt: skip
        mixed = distinct_per_batch(plan.batches())
        size = block or -(-chunk // window)
        print(
            f"| {shuffle} | {size if shuffle == 'blocks' else '-'} | "
            f"{window if shuffle == 'blocks' else '-'} | {mixed:.1f} | "
            f"{mixed / reference:.0%} |"
        )
    print(f"| uniform permutation | - | - | {reference:.1f} | 100% |")


if __name__ == "__main__":
    main()
