"""Metric dictionaries named `split/…` for one evaluation, and the same numbers as markdown tables.

Thresholds are chosen on validation and applied to test, so test F1/accuracy are honest estimates;
`best_f1` in the scorer table is the test split's own best threshold, an optimistic upper bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from parasim.evaluation.calibration import Calibrator
from parasim.evaluation.metrics import best_threshold, calibration_metrics, score_metrics, threshold_metrics
from parasim.evaluation.predict import ScoredSplit
from parasim.evaluation.scorers import TITLES

SPLIT_COLUMNS = ["n", "mse", "roc_auc", "avg_precision", "f1", "accuracy", "pearson", "spearman"]
SCORER_COLUMNS = ["roc_auc", "avg_precision", "f1", "best_f1", "threshold"]
HEADERS = {"n": "pairs", "mse": "MSE", "roc_auc": "ROC-AUC", "avg_precision": "AP", "f1": "F1 @ val thr.",
           "accuracy": "accuracy @ val thr.", "pearson": "Pearson", "spearman": "Spearman",
           "best_f1": "best F1 (test thr.)", "threshold": "val threshold"}


def _prefixed(prefix: str, metrics: Mapping[str, float]) -> dict[str, float]:
    return {f"{prefix}/{k}": float(v) for k, v in metrics.items()}


def model_metrics(val: ScoredSplit, test: ScoredSplit, subset_names: Sequence[str]) -> dict[str, float]:
    """Overall and per-subset metrics of both splits at the validation-chosen threshold."""
    threshold = best_threshold(val.scores, val.labels)
    out = {"val/threshold": threshold}
    for name, split in (("val", val), ("test", test)):
        if not len(split):
            continue
        out |= _prefixed(name, score_metrics(split.scores, split.labels, threshold))
        for sid in np.unique(split.subsets):
            part = split.select(split.subsets == sid)
            out |= _prefixed(f"{name}/{subset_names[int(sid)]}", score_metrics(part.scores, part.labels, threshold))
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
                   test_labels: np.ndarray) -> dict[str, float]:
    """`test/scorers/<name>/…` for each scorer, thresholds chosen on its validation scores."""
    out: dict[str, float] = {}
    for name, scores in test.items():
        threshold = best_threshold(val[name], val_labels)
        metrics = score_metrics(scores, test_labels, threshold)
        metrics["threshold"] = threshold
        metrics["best_f1"] = threshold_metrics(scores, test_labels, best_threshold(scores, test_labels)).get(
            "f1", math.nan)
        out |= _prefixed(f"test/scorers/{name}", metrics)
    return out


def _cell(value: float | None, integer: bool = False) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{int(value)}" if integer else f"{value:.4f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|",
            *["| " + " | ".join(row) + " |" for row in rows]]


def markdown(metrics: Mapping[str, float], subset_names: Sequence[str], score_name: str,
             calibration_kind: str, model: str) -> str:
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
    if any(k.endswith("_calibrated") for k in metrics):
        lines += [f"## Calibration ({calibration_kind}, fitted on val)", ""]
        rows = [[split, *[_cell(metrics.get(f"{split}/{k}")) for k in
                          ("brier", "brier_calibrated", "ece", "ece_calibrated")]]
                for split in ("val", "test") if f"{split}/brier" in metrics]
        lines += _table(["split", "Brier before", "Brier after", "ECE before", "ECE after"], rows) + [""]
    names = list(dict.fromkeys(k.split("/")[2] for k in metrics if k.startswith("test/scorers/")))
    if names:
        lines += ["## Scorers side by side (test split, same encoder)", ""]
        rows = [[TITLES.get(name, name), *[_cell(metrics.get(f"test/scorers/{name}/{c}")) for c in SCORER_COLUMNS]]
                for name in names]
        lines += _table(["scorer", *[HEADERS[c] for c in SCORER_COLUMNS]], rows) + [""]
    return "\n".join(lines)
