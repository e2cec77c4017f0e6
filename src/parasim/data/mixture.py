"""Training mixture: interleave named subsets with given probabilities until a stopping rule fires.

Like `datasets.interleave_datasets`: each draw picks a subset with its probability and takes that
subset's next pair (a fresh seeded shuffle per pass). `first_exhausted` stops when a subset has no pair
left (each pair used at most once; the seed's rule); `all_exhausted` restarts exhausted subsets until
every subset has been seen whole at least once (small subsets are oversampled). The epoch's index
plan is drawn up front from (seed, epoch), so `len()` is exact and the order is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
from torch.utils.data import Sampler

from parasim.errors import ParasimError

STOPPING = ("first_exhausted", "all_exhausted")


class MixtureSampler(Sampler[int]):
    """Indices into a dataset whose items belong to named subsets (`subset_of[i]` = subset id of item i)."""

    def __init__(self, subset_of: Sequence[int] | np.ndarray, names: Sequence[str],
                 probabilities: Mapping[str, float], stopping: str = "first_exhausted", seed: int = 0) -> None:
        if stopping not in STOPPING:
            raise ParasimError(f"data.mixture.stopping must be one of {list(STOPPING)}, got {stopping!r}")
        subset_of = np.asarray(subset_of)
        present = [names[i] for i in np.unique(subset_of)]
        unknown = sorted(set(probabilities) - set(present))
        if unknown:
            raise ParasimError(f"data.mixture.probabilities names subset(s) {unknown} that the training split "
                               f"does not have; it has: {present}")
        unweighted = sorted(set(present) - set(probabilities))
        if unweighted:
            raise ParasimError(f"data.mixture.probabilities gives no probability for training subset(s) "
                               f"{unweighted} (use 0 to leave a subset out of training)")
        if any(p < 0 for p in probabilities.values()) or sum(probabilities.values()) <= 0:
            raise ParasimError(
                f"data.mixture.probabilities must be >= 0 with a positive sum, got {dict(probabilities)}")
        used = [name for name in present if probabilities[name] > 0]
        self.names = used
        self.members = [np.flatnonzero(subset_of == names.index(name)) for name in used]
        weights = np.asarray([probabilities[name] for name in used], dtype=np.float64)
        self.probabilities = weights / weights.sum()
        self.stopping = stopping
        self.seed = seed
        self.epoch = 0
        self._plan: tuple[int, np.ndarray] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at each epoch start, so every epoch gets its own order."""
        self.epoch = epoch

    def plan(self) -> np.ndarray:
        """The epoch's dataset indices, in order."""
        if self._plan is None or self._plan[0] != self.epoch:
            self._plan = (self.epoch, self._draw(np.random.default_rng([self.seed, self.epoch])))
        return self._plan[1]

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        sizes = np.asarray([len(m) for m in self.members])
        # the expected draws until the rule fires, plus slack; more blocks are drawn if it has not fired
        expected = sizes / self.probabilities
        block = int((expected.min() if self.stopping == "first_exhausted" else expected.max()) * 1.1) + 64
        choices = np.zeros(0, dtype=np.int64)
        while True:
            choices = np.concatenate([choices, rng.choice(len(sizes), size=block, p=self.probabilities)])
            # rank[j] = how many times choices[j]'s subset was drawn before position j
            rank = np.zeros(len(choices), dtype=np.int64)
            for k in range(len(sizes)):
                hits = choices == k
                rank[hits] = np.arange(int(hits.sum()))
            if self.stopping == "first_exhausted":
                over = np.flatnonzero(rank >= sizes[choices])
                if len(over):
                    choices, rank = choices[: over[0]], rank[: over[0]]
                    break
            else:
                done = [np.flatnonzero((choices == k) & (rank == sizes[k] - 1)) for k in range(len(sizes))]
                if all(len(d) for d in done):
                    end = max(int(d[0]) for d in done) + 1
                    choices, rank = choices[:end], rank[:end]
                    break
        out = np.empty(len(choices), dtype=np.int64)
        for k, members in enumerate(self.members):
            hits = np.flatnonzero(choices == k)
            passes = int(rank[hits].max()) // len(members) + 1 if len(hits) else 0
            order = np.concatenate([rng.permutation(members) for _ in range(passes)]) if passes else members
            out[hits] = order[rank[hits]]
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(self.plan().tolist())

    def __len__(self) -> int:
        return len(self.plan())
