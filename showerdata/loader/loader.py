"""``showerdata.Loader``: shuffled, prefetched, reproducible training batches."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np

from ..config import showers_per_chunk
from ..showers import Showers
from .plan import SHUFFLES, RankPlan, Shuffle, plan_rank
from .prefetch import prefetched
from .reading import FIELDS, batches_of

DEFAULT_FIELDS = ("points", "energies", "num_points", "index")
#: What a state_dict must agree on to continue the same sequence of batches.
_SETTINGS = (
    "num_showers",
    "batch_size",
    "shuffle",
    "seed",
    "rank",
    "world_size",
    "drop_last",
    "block_size",
    "window",
)


def _distributed_rank() -> tuple[int, int]:
    """(rank, world size) of an initialised torch.distributed, else (0, 1)."""
    torch = sys.modules.get("torch")  # not initialised if torch is not imported
    if torch is None:
        return 0, 1
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_rank(), distributed.get_world_size()
    return 0, 1


def _open(source: Any) -> Showers:
    if isinstance(source, Showers):
        return source
    if isinstance(source, str | os.PathLike | list | tuple):
        from ..io.api import load

        return load(source)
    raise TypeError(
        "Loader source must be a Showers, a path, a glob, a directory, an index "
        f"file or a list of paths, not {type(source).__name__}"
    )


class Loader:
    """Shuffled, prefetched batches of showers for training, deterministic per epoch.

    The batches of an epoch depend only on the source, ``batch_size``,
    ``seed``, the epoch, ``world_size`` and ``rank``: not on threads, DataLoader
    workers, the prefetch depth or the dask scheduler. Across the ranks, every
    shower is yielded exactly once per epoch (at most once with
    ``drop_last=True``), and every rank yields the same number of batches.

    Parameters
    ----------
    source : str, os.PathLike, list or Showers
        A file, glob, directory, index file or list of them (opened with
        :func:`showerdata.load`), or showers (lazy or in memory).
    batch_size : int
        Showers per batch. Without ``drop_last`` the last batches of a rank
        may be smaller (never empty), see :doc:`/loader`.
    fields : sequence of str
        Fields of each batch: any of ``points``, ``energies``, ``num_points``,
        ``directions``, ``pdg``, ``shower_ids``, and ``index`` (the position of
        the shower in the source, int64).
    shuffle : {"none", "blocks", "exact"}
        ``"none"``: source order. ``"blocks"``: blocks of contiguous rows in
        random order, rows mixed within windows of ``window`` blocks.
        ``"exact"``: a uniform random permutation (reads scattered rows).
    seed : int
        Seed of the shuffle; with the epoch it fixes the order.
    rank, world_size : int, optional
        This process's rank and the number of ranks. Default: those of an
        initialised ``torch.distributed``, else 0 and 1.
    drop_last : bool
        Yield full batches only; :attr:`dropped` says how many showers an
        epoch leaves out (across all ranks).
    format : {"numpy", "torch"}
        Type of the batch arrays (torch tensors share memory with the arrays).
    trim_points : bool
        Cut the point axis of ``points`` to the largest ``num_points`` of the
        batch.
    block_size : int, optional
        Showers per block, the unit of reading (blocks never cross chunks or
        files). Default: for ``"blocks"``, a chunk of the source divided by
        ``window``, so that a window holds about one chunk (~64 MiB of padded
        points); otherwise a chunk.
    window : int
        Blocks whose rows ``"blocks"`` mixes; at most two windows are held.
    prefetch : int
        Batches prepared ahead by a background thread, while another reads
        the next window; 0 reads and prepares them in the iterating thread.

    Attributes
    ----------
    epoch : int
        The epoch iteration yields (see :meth:`set_epoch`).
    position : int
        Batches of that epoch already yielded; iteration continues after them.

    Examples
    --------
    >>> loader = showerdata.Loader("prod/*.h5", 256, shuffle="blocks")  # doctest: +SKIP
    >>> for epoch in range(10):  # doctest: +SKIP
    ...     loader.set_epoch(epoch)
    ...     for batch in loader:
    ...         train_step(batch["points"], batch["energies"])
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | Sequence[Any] | Showers,
        batch_size: int,
        fields: Sequence[str] = DEFAULT_FIELDS,
        shuffle: Shuffle = "none",
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
        format: Literal["numpy", "torch"] = "numpy",
        trim_points: bool = False,
        block_size: int | None = None,
        window: int = 4,
        prefetch: int = 2,
    ) -> None:
        self.source = _open(source)
        unknown = [f for f in fields if f not in FIELDS]
        if not fields:
            raise ValueError(f"fields must name at least one of {FIELDS}")
        if unknown:
            raise ValueError(f"unknown fields {unknown}; choose from {FIELDS}")
        if shuffle not in SHUFFLES:
            raise ValueError(f"shuffle must be one of {SHUFFLES}, not {shuffle!r}")
        if format not in ("numpy", "torch"):
            raise ValueError(f"format must be 'numpy' or 'torch', not {format!r}")
        for name, value in (("batch_size", batch_size), ("window", window)):
            if int(value) < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        if rank is None and world_size is None:
            rank, world_size = _distributed_rank()
        self.world_size = 1 if world_size is None else int(world_size)
        self.rank = 0 if rank is None else int(rank)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {rank} is not in 0..{self.world_size - 1}")
        self.fields = tuple(fields)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.format = format
        self.trim_points = bool(trim_points)
        self.block_size = None if block_size is None else int(block_size)
        self.window = int(window)
        self.prefetch = int(prefetch)
        self.epoch = 0
        self.position = 0  # batches of this epoch already yielded
        self._plan_cache: tuple[int, RankPlan] | None = None
        self.plan()  # refuse impossible settings now, not at the first batch

    # -- the plan ---------------------------------------------------------------

    def _chunks(self) -> tuple[int, ...]:
        chunks = self.source.chunks
        if chunks is not None:
            return tuple(int(c) for c in chunks)
        length = showers_per_chunk(self.source.max_points, self.source.num_features)
        full, rest = divmod(len(self.source), length)
        return (length,) * full + ((rest,) if rest else ())

    def _block_size(self, chunks: tuple[int, ...]) -> int | None:
        """Rows per block: given; for "blocks", a window holds about one chunk;
        else (None) a chunk."""
        if self.block_size is not None or self.shuffle != "blocks":
            return self.block_size
        return max(1, -(-max(chunks, default=1) // self.window))

    def plan(self, epoch: int | None = None) -> RankPlan:
        """This rank's plan of ``epoch`` (default the current one): pure, no I/O."""
        epoch = self.epoch if epoch is None else int(epoch)
        if self._plan_cache is not None and self._plan_cache[0] == epoch:
            return self._plan_cache[1]
        chunks = self._chunks()
        plan = plan_rank(
            chunks,
            batch_size=self.batch_size,
            shuffle=self.shuffle,  # type: ignore[arg-type]
            seed=self.seed,
            epoch=epoch,
            rank=self.rank,
            world_size=self.world_size,
            drop_last=self.drop_last,
            block_size=self._block_size(chunks),
            window=self.window,
        )
        self._plan_cache = (epoch, plan)
        return plan

    def __len__(self) -> int:
        """Batches per epoch, the same on every rank."""
        return self.plan().num_batches

    @property
    def dropped(self) -> int:
        """Showers an epoch leaves out across all ranks (0 unless ``drop_last``)."""
        return self.plan().dropped

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` at its first batch (each epoch has its own order)."""
        self.epoch = int(epoch)
        self.position = 0

    # -- iteration --------------------------------------------------------------

    def batches(
        self, first: int = 0, stop: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Batches ``first`` to ``stop - 1`` of the current epoch, prefetched.

        Does not move :attr:`position`; ``iter(loader)`` does.
        """
        plan = self.plan()
        stop = plan.num_batches if stop is None else stop
        made = batches_of(
            self.source,
            plan,
            self.fields,
            first,
            stop,
            self.trim_points,
            read_ahead=self.prefetch > 0,
        )
        for batch in prefetched(made, self.prefetch):
            yield self._converted(batch)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The rest of the current epoch; once it is complete, the next epoch."""
        for batch in self.batches(self.position):
            self.position += 1
            yield batch
        self.epoch += 1
        self.position = 0

    def _converted(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        if self.format == "numpy":
            return batch
        import torch

        return {name: torch.from_numpy(values) for name, values in batch.items()}

    # -- checkpoints ------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        settings = {name: getattr(self, name, None) for name in _SETTINGS}
        settings["num_showers"] = len(self.source)
        return settings

    def state_dict(self) -> dict[str, Any]:
        """Where the loader is: the epoch and the batches of it already yielded."""
        return {"epoch": self.epoch, "position": self.position, **self._settings()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`: the next batch is the one after it.

        Raises
        ------
        ValueError
            The state was saved by a loader with other settings (source length,
            batch size, shuffle, seed, ranks, ...), which gives other batches.
        """
        mine = self._settings()
        differ = {k: (state.get(k), v) for k, v in mine.items() if state.get(k) != v}
        if differ:
            text = ", ".join(
                f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in differ.items()
            )
            raise ValueError(f"the state is of a loader with other settings ({text})")
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])

    # -- torch ------------------------------------------------------------------

    def torch_dataset(self) -> Any:
        """A ``torch.utils.data.IterableDataset`` of this loader's batches.

        Use it with ``DataLoader(dataset, batch_size=None, num_workers=n)``:
        each worker yields its own contiguous share of the epoch's batches
        (the same batches as without workers), and reopens the files it reads.
        Call ``dataset.set_epoch(epoch)`` before each epoch.
        """
        from .torch_dataset import ShowerBatches

        return ShowerBatches(self)


__all__ = ["DEFAULT_FIELDS", "Loader"]
