"""Decisions with a known error rate: a threshold chosen on validation for a target false-positive rate or precision.

A false accusation of plagiarism costs more than a miss, so the decision threshold can be set for
`threshold.fpr` (the largest share of validation negatives allowed at or above it) or `threshold.precision`
(the lowest threshold whose validation precision reaches the target, so recall is as high as it allows).
Without a target it is the F1-best threshold (`metrics.best_threshold`). Each threshold sits midway between two
validation scores, as `best_threshold` does, so it does not land on a validation score when applied elsewhere.

A rate is only measurable with enough events: a target of fpr = α on fewer than 3/α validation negatives
expects fewer than 3 false positives at the target, so the threshold would rest on one or two pairs (with 100
negatives, fpr = 0.01 allows exactly one). Such a target is refused, with the count it needs; likewise a
precision p when fewer than 3/(1 − p) validation pairs lie above the threshold.

The export stores the chosen threshold and the validation scores themselves in `calibration.json` (a few kB),
so `score` and `mine` can re-target (`threshold.fpr=0.001`) without the validation data. The rate reached on
test is reported with its exact 95 % Clopper-Pearson interval (scipy).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest

from parasim.errors import ParasimError
from parasim.evaluation.calibration import FILENAME
from parasim.evaluation.metrics import best_threshold

MIN_EVENTS = 3  # expected events at the target rate a validation set must hold for the rate to be measurable
CONFIDENCE = 0.95


def _split(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    return np.sort(scores[labels < 0.5]), np.sort(scores[labels >= 0.5])


def _midpoint_above(value: float, scores: np.ndarray) -> float:
    """Halfway between `value` and the next larger score (just above `value` when none is larger)."""
    above = scores[scores > value]
    return (value + float(above.min())) / 2 if above.size else float(np.nextafter(value, np.inf))


def _midpoint_below(value: float, scores: np.ndarray) -> float:
    below = scores[scores < value]
    return (value + float(below.max())) / 2 if below.size else value


def for_fpr(negatives: np.ndarray, positives: np.ndarray, fpr: float) -> float:
    """The lowest threshold at which at most `fpr` of the validation negatives score at or above it."""
    if not 0 < fpr < 1:
        raise ParasimError(f"threshold.fpr must be in (0, 1), got {fpr}")
    need = math.ceil(MIN_EVENTS / fpr - 1e-9)
    if len(negatives) < need:
        raise ParasimError(
            f"threshold.fpr={fpr} needs at least {need} validation negatives (about {MIN_EVENTS}/fpr, so that "
            f"{MIN_EVENTS} false positives are expected at the target); the validation split has {len(negatives)}. "
            f"Add validation negatives or ask for threshold.fpr >= {MIN_EVENTS / max(len(negatives), 1):.3g}.")
    allowed = math.floor(fpr * len(negatives) + 1e-9)  # negatives that may stay at or above the threshold
    cut = float(negatives[len(negatives) - 1 - allowed])  # the highest negative that must fall below it
    return _midpoint_above(cut, np.concatenate([negatives, positives]))


def for_precision(negatives: np.ndarray, positives: np.ndarray, precision: float) -> float:
    """The lowest threshold whose validation precision reaches `precision` (the most recall it allows)."""
    if not 0 < precision < 1:
        raise ParasimError(f"threshold.precision must be in (0, 1), got {precision}")
    scores = np.concatenate([negatives, positives])
    is_pos = np.concatenate([np.zeros(len(negatives)), np.ones(len(positives))])
    order = np.argsort(-scores, kind="stable")
    scores, is_pos = scores[order], is_pos[order]
    last = np.r_[scores[1:] != scores[:-1], True]  # cut after each distinct score (ties go together)
    predicted = np.arange(1, len(scores) + 1)[last]
    reached = np.cumsum(is_pos)[last] / predicted
    need = math.ceil(MIN_EVENTS / (1 - precision) - 1e-9)
    ok = np.flatnonzero((reached >= precision) & (predicted >= need))
    if not ok.size:
        raise ParasimError(
            f"threshold.precision={precision} needs at least {need} validation pairs above the threshold (about "
            f"{MIN_EVENTS}/(1 - precision)) at that precision; the validation split ({len(scores)} pairs, "
            f"{len(positives)} positive) has no such threshold. Add validation pairs or lower the target.")
    value = float(scores[last][ok[-1]])
    return _midpoint_below(value, scores)


def rates(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    """Counts and rates of `score >= threshold`, with exact 95 % intervals for the FPR and the precision."""
    negatives, positives = _split(scores, labels)
    fp, tp = int((negatives >= threshold).sum()), int((positives >= threshold).sum())
    out: dict[str, Any] = {"threshold": threshold, "negatives": len(negatives), "positives": len(positives),
                           "false_positives": fp, "true_positives": tp}
    if len(negatives):
        ci = binomtest(fp, len(negatives)).proportion_ci(CONFIDENCE, method="exact")
        out.update(fpr=fp / len(negatives), fpr_ci=[float(ci.low), float(ci.high)])
    if tp + fp:
        ci = binomtest(tp, tp + fp).proportion_ci(CONFIDENCE, method="exact")
        out.update(precision=tp / (tp + fp), precision_ci=[float(ci.low), float(ci.high)])
    if len(positives):
        out["recall"] = tp / len(positives)
    return out


def choose(scores: np.ndarray, labels: np.ndarray, fpr: float | None = None,
           precision: float | None = None) -> dict[str, Any]:
    """The decision threshold on these (validation) pairs for the target, with what it reaches on them."""
    if fpr is not None and precision is not None:
        raise ParasimError("set one of threshold.fpr and threshold.precision, not both")
    negatives, positives = _split(scores, labels)
    if fpr is not None:
        target, value = {"fpr": float(fpr)}, for_fpr(negatives, positives, float(fpr))
    elif precision is not None:
        target, value = {"precision": float(precision)}, for_precision(negatives, positives, float(precision))
    else:
        target, value = {"f1": "max"}, best_threshold(np.asarray(scores, float), np.asarray(labels, float))
        if math.isnan(value):
            raise ParasimError("no F1-best threshold: the validation split has no positive pair")
    return {"score": float(value), "target": target, "val": rates(scores, labels, value)}


def describe(chosen: Mapping[str, Any]) -> str:
    """`0.8312 (fpr=0.01)`: a threshold and its target, for reports and logs."""
    target = ", ".join(f"{k}={v}" for k, v in chosen.get("target", {}).items())
    return f"{chosen['score']:.4f} ({target})" if target else f"{chosen['score']:.4f}"


def test_metrics(threshold: Mapping[str, Any], prefix: str = "test") -> dict[str, float]:
    """`prefix/fpr`, `…/fpr_ci_low`, `…/fpr_ci_high`, `…/precision_at_threshold`, … from a threshold's test rates."""
    reached = threshold.get(prefix) or {}
    out = {f"{prefix}/decision_threshold": float(threshold["score"])}
    if "fpr" in reached:
        out |= {f"{prefix}/fpr": reached["fpr"], f"{prefix}/fpr_ci_low": reached["fpr_ci"][0],
                f"{prefix}/fpr_ci_high": reached["fpr_ci"][1]}
    if "precision" in reached:
        out |= {f"{prefix}/precision_at_threshold": reached["precision"],
                f"{prefix}/precision_ci_low": reached["precision_ci"][0],
                f"{prefix}/precision_ci_high": reached["precision_ci"][1]}
    if "recall" in reached:
        out[f"{prefix}/recall_at_threshold"] = reached["recall"]
    return out


def for_export(val_scores: np.ndarray, val_labels: np.ndarray, test: tuple[np.ndarray, np.ndarray] | None,
               fpr: float | None = None, precision: float | None = None) -> dict[str, Any]:
    """What `calibration.json` stores: the threshold, its test rates (when test scores exist) and the validation
    scores (sorted, per class) that `score`/`mine` re-target from."""
    chosen = choose(val_scores, val_labels, fpr, precision)
    if test is not None and len(test[0]):
        chosen["test"] = rates(test[0], test[1], chosen["score"])
    negatives, positives = _split(val_scores, val_labels)
    return {"threshold": chosen, "val_scores": {"negatives": negatives.tolist(), "positives": positives.tolist()}}


def add_to_json(calibration_json: str | None, entry: Mapping[str, Any]) -> str:
    """`calibration.json` text with the threshold entry added (a file without a map gets `kind: none`)."""
    data = json.loads(calibration_json) if calibration_json else {"kind": "none", "fit": {}}
    return json.dumps({**data, **entry}, indent=2) + "\n"


def resolve(model_dir: str | Path, config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The threshold `score`/`mine` decide with: `threshold.score` as given, else a target re-chosen on the
    export's validation scores, else the export's stored threshold; None when there is none."""
    config = numbers(config)
    if config.get("score") is not None:
        return {"score": float(config["score"]), "target": {"score": float(config["score"])}}
    path = Path(model_dir) / FILENAME
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if config.get("fpr") is not None or config.get("precision") is not None:
        stored = data.get("val_scores")
        if not stored:
            raise ParasimError(f"{model_dir}: the export holds no validation scores to choose threshold.fpr/precision "
                               "on (exported before parasim stored them); pass threshold.score=VALUE instead")
        negatives, positives = np.asarray(stored["negatives"]), np.asarray(stored["positives"])
        labels = np.r_[np.zeros(len(negatives)), np.ones(len(positives))]
        return choose(np.r_[negatives, positives], labels, config.get("fpr"), config.get("precision"))
    return data.get("threshold")


def numbers(config: Mapping[str, Any] | None) -> dict[str, float | None]:
    """The `threshold` config's values as floats (null stays None); anything else is refused with its key."""
    out: dict[str, float | None] = {}
    for key, value in dict(config or {}).items():
        try:
            out[key] = None if value is None else float(value)
        except (TypeError, ValueError):
            raise ParasimError(f"threshold.{key}={value!r} is not a number") from None
    return out


def check_target(config: Mapping[str, Any] | None, val_labels: Any) -> None:
    """Refuse, before training, a target the validation split cannot support (the export would refuse it after)."""
    config = numbers(config)
    labels = np.asarray(val_labels, dtype=np.float64)
    if config.get("fpr") is not None:  # only the count of negatives matters here
        for_fpr(np.zeros(int((labels < 0.5).sum())), np.ones(int((labels >= 0.5).sum())), float(config["fpr"]))
    if config.get("precision") is not None:
        precision = float(config["precision"])
        if not 0 < precision < 1:
            raise ParasimError(f"threshold.precision must be in (0, 1), got {precision}")
        need = math.ceil(MIN_EVENTS / (1 - precision) - 1e-9)
        if len(labels) < need:
            raise ParasimError(f"threshold.precision={precision} needs at least {need} validation pairs above the "
                               f"threshold (about {MIN_EVENTS}/(1 - precision)); the validation split has "
                               f"{len(labels)} pairs in all. Add validation pairs or lower the target.")
