"""Pair-scoring metrics from torchmetrics; graded labels count as positive from 0.5 up for ranking metrics."""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import precision_recall_curve
from torchmetrics.functional import mean_squared_error, pearson_corrcoef, spearman_corrcoef
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_auroc,
    binary_average_precision,
    binary_calibration_error,
    binary_f1_score,
)

ECE_BINS = 10


def _tensor(values: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float32))


def pair_metrics(scores: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """MSE against the label (the seed's figure), ROC-AUC and average precision."""
    scores, labels = scores.detach().float().cpu(), labels.detach().float().cpu()
    out = {"mse": float(mean_squared_error(scores, labels)), "n": float(len(labels))}
    binary = (labels >= 0.5).long()
    if 0 < int(binary.sum()) < len(binary):
        out["roc_auc"] = float(binary_auroc(scores, binary))
        out["avg_precision"] = float(binary_average_precision(scores, binary))
    return out


def is_graded(labels: np.ndarray) -> bool:
    """Labels other than 0/1 (e.g. STS scores mapped to [0, 1]) make correlations meaningful."""
    return bool(np.any((labels != 0) & (labels != 1)))


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The F1-maximising decision threshold on these pairs (predict positive when score >= threshold).

    sklearn's PR curve gives F1 at every distinct score; the threshold returned is the midpoint between
    the best score and the next lower one, so it does not sit exactly on a validation score when applied
    to the test split. NaN when the pairs hold no positive.
    """
    binary = labels >= 0.5
    if not binary.any():
        return math.nan
    precision, recall, thresholds = precision_recall_curve(binary, scores)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                   where=(precision + recall) > 0)[:-1]
    best = float(thresholds[int(np.argmax(f1))])
    below = scores[scores < best]
    return (best + float(below.max())) / 2 if below.size else best


def threshold_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """F1 and accuracy of `score >= threshold` (integer predictions: torchmetrics applies no sigmoid)."""
    if math.isnan(threshold):
        return {}
    preds = torch.as_tensor(scores >= threshold, dtype=torch.long)
    target = torch.as_tensor(labels >= 0.5, dtype=torch.long)
    return {"f1": float(binary_f1_score(preds, target)), "accuracy": float(binary_accuracy(preds, target))}


def correlation_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman against graded labels; empty for 0/1 labels or fewer than 2 pairs."""
    if len(labels) < 2 or not is_graded(labels):
        return {}
    s, y = _tensor(scores), _tensor(labels)
    return {"pearson": float(pearson_corrcoef(s, y)), "spearman": float(spearman_corrcoef(s, y))}


def calibration_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Brier score and expected calibration error (10 equal-width bins) of scores read as P(paraphrase).

    Scores are clipped to [0, 1] first: torchmetrics would otherwise pass values outside through a sigmoid.
    """
    p = _tensor(np.clip(probabilities, 0.0, 1.0))
    target = torch.as_tensor(labels >= 0.5, dtype=torch.long)
    return {"brier": float(mean_squared_error(p, target.float())),
            "ece": float(binary_calibration_error(p, target, n_bins=ECE_BINS))}


def score_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Everything `eval` reports for one set of pairs: ranking, MSE, thresholded, correlations."""
    out = pair_metrics(_tensor(scores), _tensor(labels))
    out.update(threshold_metrics(scores, labels, threshold))
    out.update(correlation_metrics(scores, labels))
    return out
