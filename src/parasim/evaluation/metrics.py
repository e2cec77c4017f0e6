"""Pair-scoring metrics from torchmetrics; graded labels count as positive from 0.5 up for ranking metrics."""

from __future__ import annotations

import torch
from torchmetrics.functional import mean_squared_error
from torchmetrics.functional.classification import binary_auroc, binary_average_precision


def pair_metrics(scores: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """MSE against the label (the seed's figure), ROC-AUC and average precision."""
    scores, labels = scores.detach().float().cpu(), labels.detach().float().cpu()
    out = {"mse": float(mean_squared_error(scores, labels)), "n": float(len(labels))}
    binary = (labels >= 0.5).long()
    if 0 < int(binary.sum()) < len(binary):
        out["roc_auc"] = float(binary_auroc(scores, binary))
        out["avg_precision"] = float(binary_average_precision(scores, binary))
    return out
