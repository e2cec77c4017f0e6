"""Metric dictionaries named `split/…` for one evaluation, and the same numbers as markdown tables.

Thresholds are chosen on validation and applied to test, so test F1/accuracy are honest estimates;
`best_f1` in the scorer table is the test split's own best threshold, an optimistic upper bound.

95 % bootstrap intervals (2,000 resamples of the test pairs, seed 0; `parasim.evaluation.bootstrap`) come
as `<metric>_low` / `<metric>_high` beside a metric: `test/roc_auc_low`, `test/scorers/<name>/roc_auc_high`.
Each scorer other than SE-F1 also gets its difference from SE-F1 on the same pairs, `test/scorers/<name>/
diff_<metric>` (= scorer − SE-F1, paired bootstrap) with its interval: an interval that excludes 0 says the
two scorers differ by more than the choice of test pairs explains. Scorers are compared on ROC-AUC and AP
only: MSE against the label means nothing for scores not on the label's scale (BLEU, cosine).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from parasim.evaluation.bootstrap import N_RESAMPLES, Interval, bootstrap_interval, paired_bootstrap
from parasim.evaluation.calibration import Calibrator
from parasim.evaluation.metrics import best_threshold, calibration_metrics, score_metrics, threshold_metrics
from parasim.evaluation.predict import ScoredSplit
from parasim.evaluation.scorers import TITLES

SPLIT_COLUMNS = ["n", "mse", "roc_auc", "avg_precision", "f1", "accuracy", "pearson", "spearman"]
SCORER_COLUMNS = ["roc_auc", "avg_precision", "f1", "best_f1", "threshold"]
CI_METRICS = ("mse", "roc_auc", "avg_precision")
SCORER_CI_METRICS = ("roc_auc", "avg_precision")
BASELINE = "sef1"  # the scorer the others are compared with
HEADERS = {"n": "pairs", "mse": "MSE", "roc_auc": "ROC-AUC", "avg_precision": "AP", "f1": "F1 @ val thr.",
           "accuracy": "accuracy @ val thr.", "pearson": "Pearson", "spearman": "Spearman",
           "best_f1": "best F1 (test thr.)", "threshold": "val threshold"}


def _prefixed(prefix: str, metrics: Mapping[str, float]) -> dict[str, float]:
    return {f"{prefix}/{k}": float(v) for k, v in metrics.items()}


def _bounds(name: str, interval: Interval) -> dict[str, float]:
    return {f"{name}_low": interval.low, f"{name}_high": interval.high}


def model_metrics(val: ScoredSplit, test: ScoredSplit, subset_names: Sequence[str], n_resamples: int = N_RESAMPLES,
                  seed: int = 0) -> dict[str, float]:
    """Overall and per-subset metrics of both splits at the validation-chosen threshold, and bootstrap intervals
    of the test split's overall MSE, ROC-AUC and AP."""
    threshold = best_threshold(val.scores, val.labels)
    out = {"val/threshold": threshold}
    for name, split in (("val", val), ("test", test)):
        if not len(split):
            continue
        out |= _prefixed(name, score_metrics(split.scores, split.labels, threshold))
        for sid in np.unique(split.subsets):
            part = split.select(split.subsets == sid)
            out |= _prefixed(f"{name}/{subset_names[int(sid)]}", score_metrics(part.scores, part.labels, threshold))
    for metric in CI_METRICS:
        if f"test/{metric}" in out:  # ranking metrics are absent on one-class data
            out |= _bounds(f"test/{metric}", bootstrap_interval(test.labels, test.scores, metric, n_resamples, seed))
    return out


def calibration_report(calibrator: Calibrator, splits: Mapping[str, ScoredSplit]) -> dict[str, float]:
    """Brier score and ECE of the raw score (clipped to [0, 1]) and of the calibrated one, per split."""
    out: dict[str, float] = {}
    for name, split in splits.items():
        if not len(split):
            continue
        out |= _prefixed(name, calibration_metrics(split.scores, split.labels))
        after = calibration_metrics(calibrator(split.scores), split.labels)
        out |= {f"{name}/{k}_calibrated": v for k, v in after.items()}
    return out


def scorer_metrics(val: Mapping[str, np.ndarray], val_labels: np.ndarray, test: Mapping[str, np.ndarray],
                   test_labels: np.ndarray, n_resamples: int = N_RESAMPLES, seed: int = 0) -> dict[str, float]:
    """`test/scorers/<name>/…` for each scorer, thresholds chosen on its validation scores, with bootstrap intervals
    of ROC-AUC and AP and, for scorers other than SE-F1, their paired difference from SE-F1 (`diff_roc_auc`, …)."""
    out: dict[str, float] = {}
    ranked = 0 < int((test_labels >= 0.5).sum()) < len(test_labels)  # ROC-AUC and AP need both classes
    for name, scores in test.items():
        threshold = best_threshold(val[name], val_labels)
        metrics = score_metrics(scores, test_labels, threshold)
        metrics["threshold"] = threshold
        metrics["best_f1"] = threshold_metrics(scores, test_labels, best_threshold(scores, test_labels)).get(
            "f1", math.nan)
        if ranked:
            for metric in SCORER_CI_METRICS:
                metrics |= _bounds(metric, bootstrap_interval(test_labels, scores, metric, n_resamples, seed))
            if name != BASELINE and BASELINE in test:
                diffs = paired_bootstrap(test_labels, test[BASELINE], scores, SCORER_CI_METRICS, n_resamples, seed)
                for metric, interval in diffs.items():
                    metrics |= {f"diff_{metric}": interval.value, **_bounds(f"diff_{metric}", interval)}
        out |= _prefixed(f"test/scorers/{name}", metrics)
    return out


def _cell(value: float | None, integer: bool = False) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{int(value)}" if integer else f"{value:.4f}"


def _interval_cell(metrics: Mapping[str, float], name: str, signed: bool = False) -> str:
    """`0.8123 [0.7800, 0.8400]`; differences signed (`−0.0312 [−0.0600, −0.0050]`)."""
    value, low, high = (metrics.get(name + suffix) for suffix in ("", "_low", "_high"))
    if value is None or math.isnan(value):
        return "–"
    form = "{:+.4f}" if signed else "{:.4f}"
    if low is None or high is None:
        return form.format(value)
    return f"{form.format(value)} [{form.format(low)}, {form.format(high)}]".replace("-", "−")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|",
            *["| " + " | ".join(row) + " |" for row in rows]]


def markdown(metrics: Mapping[str, float], subset_names: Sequence[str], score_name: str,
             calibration_kind: str, model: str, n_resamples: int = N_RESAMPLES) -> str:
    """metrics.md: the model's score per split and subset, calibration, and the scorers side by side."""
    lines = [f"# Evaluation of {model}", "", f"## {score_name} per split and subset", ""]
    columns = [c for c in SPLIT_COLUMNS if any(k.endswith(f"/{c}") for k in metrics)]
    rows = []
    for split in ("val", "test"):
        for group in ("", *subset_names):
            prefix = f"{split}/{group}/" if group else f"{split}/"
            if f"{prefix}n" in metrics:
                rows.append([split, group or "all", *[_cell(metrics.get(prefix + c), c == "n") for c in columns]])
    lines += _table(["split", "subset", *[HEADERS[c] for c in columns]], rows)
    lines += ["", f"Decision threshold (best F1 on val): {_cell(metrics.get('val/threshold'))}", ""]
    intervals = [f"{HEADERS[c]} {_interval_cell(metrics, f'test/{c}')}" for c in CI_METRICS
                 if f"test/{c}_low" in metrics]
    if intervals:
        lines += [f"95 % bootstrap intervals, test, all ({n_resamples:,} resamples of pairs): "
                  + "; ".join(intervals) + ".", ""]
    if any(k.endswith("_calibrated") for k in metrics):
        lines += [f"## Calibration ({calibration_kind}, fitted on val)", ""]
        rows = [[split, *[_cell(metrics.get(f"{split}/{k}")) for k in
                          ("brier", "brier_calibrated", "ece", "ece_calibrated")]]
                for split in ("val", "test") if f"{split}/brier" in metrics]
        lines += _table(["split", "Brier before", "Brier after", "ECE before", "ECE after"], rows) + [""]
    names = list(dict.fromkeys(k.split("/")[2] for k in metrics if k.startswith("test/scorers/")))
    if names:
        lines += _scorer_table(metrics, names, n_resamples)
    return "\n".join(lines)


def _scorer_table(metrics: Mapping[str, float], names: list[str], n_resamples: int) -> list[str]:
    """Each scorer's ROC-AUC and AP with intervals, its difference from SE-F1, and the thresholded figures."""
    baseline = TITLES[BASELINE]
    header = ["scorer"]
    for c in SCORER_CI_METRICS:
        header += [f"{HEADERS[c]} [95 % CI]", f"Δ {HEADERS[c]} vs {baseline} [95 % CI]"]
    header += [HEADERS[c] for c in SCORER_COLUMNS if c not in SCORER_CI_METRICS]
    rows = []
    for name in names:
        prefix = f"test/scorers/{name}/"
        row = [TITLES.get(name, name)]
        for c in SCORER_CI_METRICS:
            row += [_interval_cell(metrics, prefix + c), _interval_cell(metrics, f"{prefix}diff_{c}", signed=True)]
        rows.append(row + [_cell(metrics.get(prefix + c)) for c in SCORER_COLUMNS if c not in SCORER_CI_METRICS])
    note = (f"Δ = scorer − {baseline} on the same test pairs; intervals are 95 % percentile intervals over "
            f"{n_resamples:,} resamples of the pairs (paired for Δ). A Δ interval that excludes 0: the scorers "
            "differ by more than the choice of test pairs explains.")
    return ["## Scorers side by side (test split, same encoder)", "", *_table(header, rows), "", note, ""]
