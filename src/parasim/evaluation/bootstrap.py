"""STAND-IN on branch issue14b for issue 14a's `parasim.evaluation.bootstrap` (same path, same contract); drop this
file for theirs at merge. The evaluation suite reaches it only through `parasim.evaluation.suite_stats`.

Percentile bootstrap over pairs: each resample draws n pairs with replacement (one draw shared by both models in
`paired_bootstrap`, so the interval is that of the difference on the same pairs). A resample without both classes
has no ROC-AUC/AP and is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


@dataclass
class Interval:
    value: float
    low: float
    high: float


def _mse(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(np.mean((scores - labels) ** 2))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "roc_auc": lambda y, s: float(roc_auc_score(y >= 0.5, s)),
    "avg_precision": lambda y, s: float(average_precision_score(y >= 0.5, s)),
    "mse": _mse,
}
NEEDS_BOTH_CLASSES = {"roc_auc", "avg_precision"}


def _resamples(n: int, n_resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def _interval(value: float, draws: list[float], confidence: float) -> Interval:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail]) if draws else (np.nan, np.nan)
    return Interval(float(value), float(low), float(high))


def _valid(metric: str, labels: np.ndarray) -> bool:
    binary = labels >= 0.5
    return metric not in NEEDS_BOTH_CLASSES or 0 < int(binary.sum()) < len(binary)


def bootstrap_interval(labels: Sequence[float], scores: Sequence[float], metric: str, n_resamples: int = 2000,
                       seed: int = 0, confidence: float = 0.95) -> Interval:
    """`metric` of `scores` with its percentile interval."""
    y, s = np.asarray(labels, dtype=float), np.asarray(scores, dtype=float)
    fn = METRICS[metric]
    draws = [fn(y[i], s[i]) for i in _resamples(len(y), n_resamples, seed) if _valid(metric, y[i])]
    return _interval(fn(y, s), draws, confidence)


def paired_bootstrap(labels: Sequence[float], scores_a: Sequence[float], scores_b: Sequence[float],
                     metrics: Sequence[str] = ("roc_auc", "avg_precision", "mse"), n_resamples: int = 2000,
                     seed: int = 0, confidence: float = 0.95) -> dict[str, Interval]:
    """metric(b) − metric(a) per metric, with the percentile interval of that difference over shared resamples."""
    y, a, b = (np.asarray(x, dtype=float) for x in (labels, scores_a, scores_b))
    indices = _resamples(len(y), n_resamples, seed)
    out = {}
    for metric in metrics:
        fn = METRICS[metric]
        draws = [fn(y[i], b[i]) - fn(y[i], a[i]) for i in indices if _valid(metric, y[i])]
        out[metric] = _interval(fn(y, b) - fn(y, a), draws, confidence)
    return out
