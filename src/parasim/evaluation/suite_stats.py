"""The evaluation suite's confidence intervals: the paired-bootstrap difference of a model against the first one.

ROC-AUC, AP and MSE come from `parasim.evaluation.bootstrap.paired_bootstrap` (issue 14a's module, this function is
the suite's only use of it). Spearman (the STS-b check) is not in that module's metric list, so it is bootstrapped
here the same way: one resample of pairs shared by both models, the difference of the two Spearman correlations
(average ranks for ties), the percentile interval over resamples. Ranking 2,000 resamples of STS-b's 1,379 pairs
takes about a second.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

from parasim.evaluation.bootstrap import Interval, paired_bootstrap

LOCAL = ("spearman",)
ROWS_PER_BLOCK = 256  # resamples ranked at once: bounds memory to ≈ 3 × 256 × n floats


def _spearman_rows(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row's (labels, scores): Pearson of average ranks; NaN for a constant row."""
    x, y = rankdata(labels, axis=1), rankdata(scores, axis=1)
    x, y = x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x * y).sum(axis=1) / np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))


def paired_spearman(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, n_resamples: int, seed: int,
                    confidence: float) -> Interval:
    """Spearman(b) − Spearman(a) with its percentile bootstrap interval."""
    full = _spearman_rows(labels[None], np.stack([scores_a, scores_b]))
    indices = np.random.default_rng(seed).integers(0, len(labels), size=(n_resamples, len(labels)))
    draws = []
    for start in range(0, n_resamples, ROWS_PER_BLOCK):
        block = indices[start : start + ROWS_PER_BLOCK]
        draws.append(_spearman_rows(labels[block], scores_b[block]) - _spearman_rows(labels[block], scores_a[block]))
    diffs = np.concatenate(draws)
    diffs = diffs[~np.isnan(diffs)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail]) if diffs.size else (np.nan, np.nan)
    return Interval(float(full[1] - full[0]), float(low), float(high))


def difference_intervals(labels: Sequence[float], scores_a: Sequence[float], scores_b: Sequence[float],
                         metrics: Sequence[str], n_resamples: int, seed: int, confidence: float) -> dict[str, Interval]:
    """metric(b) − metric(a) with its paired-bootstrap interval, for each of `metrics`."""
    y, a, b = (np.asarray(x, dtype=float) for x in (labels, scores_a, scores_b))
    shared = tuple(m for m in metrics if m not in LOCAL)
    out = dict(paired_bootstrap(y, a, b, metrics=shared, n_resamples=n_resamples, seed=seed,
                                confidence=confidence)) if shared else {}
    if "spearman" in metrics:
        out["spearman"] = paired_spearman(y, a, b, n_resamples, seed, confidence)
    return {m: out[m] for m in metrics}
