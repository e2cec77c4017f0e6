"""Per-pair scores of a loss's model on a prepared split: the same path as training's val/test metrics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from parasim.losses.base import PairLoss
from parasim.models.batching import PairBatch


@dataclass
class ScoredSplit:
    """Scores, labels and subset ids of one split, in the split's order."""

    scores: np.ndarray
    labels: np.ndarray
    subsets: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, mask: np.ndarray) -> ScoredSplit:
        return ScoredSplit(self.scores[mask], self.labels[mask], self.subsets[mask])


@torch.inference_mode()
def collect_scores(loss: PairLoss, batches: Iterable[PairBatch]) -> ScoredSplit:
    """`loss.score` over every batch in eval mode (dropout off), on the encoder's device, without gradients."""
    device = next(loss.encoder.parameters()).device
    modes = {module: module.training for module in loss.modules()}  # restored exactly, submodules included
    loss.eval()
    scores, labels, subsets = [], [], []
    try:
        for batch in batches:
            scores.append(loss.score(batch.to(device)).cpu())
            labels.append(batch.labels)
            subsets.append(batch.subsets)
    finally:
        for module, training in modes.items():
            module.training = training
    if not scores:
        return ScoredSplit(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))
    return ScoredSplit(torch.cat(scores).double().numpy(), torch.cat(labels).double().numpy(),
                       torch.cat(subsets).numpy())
