"""Training order that survives a restart: epoch-seeded shuffling and a loader that resumes mid-epoch.

A plain `DataLoader(shuffle=True, generator=...)` draws every epoch's order from one generator, so a
process resumed at epoch 3 replays epoch 0's order, and Lightning restarts a mid-epoch checkpoint at the
epoch's first batch. Here epoch e's order depends on (seed, e) only, and the loader reports how many
batches of the epoch it has served: Lightning stores that in the checkpoint (loaders with
`state_dict`/`load_state_dict` count as resumable) and the resumed epoch continues with the next batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, RandomSampler


class EpochShuffleSampler(RandomSampler):
    """A permutation per epoch drawn from (seed, epoch); Lightning calls `set_epoch` before each epoch.

    A RandomSampler, so that under DDP Lightning swaps it for a shuffling DistributedSampler.
    """

    def __init__(self, data_source: Sized, seed: int) -> None:
        super().__init__(data_source)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        yield from np.random.default_rng([self.seed, self.epoch]).permutation(len(self.data_source)).tolist()


class ResumableLoader(DataLoader):
    """A DataLoader whose position within the epoch is saved in checkpoints and restored on resume.

    Iteration starts lazily (at the first batch, after Lightning has set the sampler's epoch); a resumed
    epoch draws and discards the batches it had already trained on, so any deterministic sampler
    (shuffle, mixture, distributed) continues exactly where it stopped.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._served = 0
        self._skip = 0

    def __iter__(self) -> Iterator[Any]:
        skip, self._skip = self._skip, 0
        self._served = skip
        batches = super().__iter__()
        for _ in range(skip):
            next(batches)
        for batch in batches:
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"batches": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """A finished epoch (saved at its end) resumes with a fresh one."""
        served = int(state.get("batches", 0))
        self._skip = served if served < len(self) else 0
