"""Maps from a raw score to P(paraphrase), fitted on the validation split and saved as plain JSON.

Both maps are non-decreasing in the raw score: a higher SE-F1 never means a lower paraphrase
probability, and a map that wiggled with the noise of a small validation set would reorder pairs and
change ROC-AUC. JSON (not pickle) so a scorer can load a map shipped with an export safely.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import instantiate
from sklearn.isotonic import IsotonicRegression

from parasim.errors import ParasimError
from parasim.evaluation.metrics import calibration_metrics
from parasim.evaluation.predict import ScoredSplit, collect_scores
from parasim.losses.base import PairLoss
from parasim.utils.files import write_text_atomic

FILENAME = "calibration.json"
log = logging.getLogger(__name__)


class Calibrator:
    """Base: `fit(scores, labels)` on validation pairs, then `calibrator(scores)` → probabilities."""

    kind = "none"

    def fit(self, scores: np.ndarray, labels: np.ndarray) -> Calibrator:
        return self

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)

    def state(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.state()}


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if scores.size == 0:
        raise ParasimError("Calibration needs validation pairs, but the validation split is empty.")
    return np.clip(scores, 0.0, 1.0), (labels >= 0.5).astype(np.float64)


class BinnedCalibrator(Calibrator):
    """The seed's map: equal-width bins of the score on [0, 1], each mapped to its positive rate.

    With `monotone`, the bin rates are made non-decreasing by isotonic regression weighted by the bin
    counts (the least-squares monotone fit to the rates). Empty bins take the value interpolated
    between the nearest non-empty bins' centres, constant beyond the first and last one.
    """

    kind = "binned"

    def __init__(self, bins: int = 100, monotone: bool = True, values: list[float] | None = None) -> None:
        if bins < 1:
            raise ParasimError(f"calibration.bins must be at least 1, got {bins}")
        self.bins = bins
        self.monotone = monotone
        self.values = None if values is None else np.asarray(values, dtype=np.float64)

    def _bin(self, scores: np.ndarray) -> np.ndarray:
        return np.clip(np.floor(np.clip(scores, 0.0, 1.0) * self.bins).astype(np.int64), 0, self.bins - 1)

    def fit(self, scores: np.ndarray, labels: np.ndarray) -> BinnedCalibrator:
        scores, positive = _check(scores, labels)
        index = self._bin(scores)
        counts = np.bincount(index, minlength=self.bins).astype(np.float64)
        hits = np.bincount(index, weights=positive, minlength=self.bins)
        filled = np.flatnonzero(counts)
        rates = hits[filled] / counts[filled]
        if self.monotone and filled.size > 1:
            rates = IsotonicRegression(y_min=0.0, y_max=1.0).fit_transform(filled, rates, sample_weight=counts[filled])
        centres = (np.arange(self.bins) + 0.5) / self.bins
        self.values = np.interp(centres, centres[filled], rates)
        return self

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        if self.values is None:
            raise ParasimError("The binned calibration map is not fitted.")
        return self.values[self._bin(np.asarray(scores, dtype=np.float64))]

    def state(self) -> dict[str, Any]:
        return {"bins": self.bins, "monotone": self.monotone,
                "values": None if self.values is None else [float(v) for v in self.values]}


class IsotonicCalibrator(Calibrator):
    """scikit-learn's isotonic regression; stored as its breakpoints and applied by linear interpolation
    (what `IsotonicRegression.predict` does with out_of_bounds='clip')."""

    kind = "isotonic"

    def __init__(self, x: list[float] | None = None, y: list[float] | None = None) -> None:
        self.x = None if x is None else np.asarray(x, dtype=np.float64)
        self.y = None if y is None else np.asarray(y, dtype=np.float64)

    def fit(self, scores: np.ndarray, labels: np.ndarray) -> IsotonicCalibrator:
        scores, positive = _check(scores, labels)
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, positive)
        self.x, self.y = model.X_thresholds_, model.y_thresholds_
        return self

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        if self.x is None or self.y is None:
            raise ParasimError("The isotonic calibration map is not fitted.")
        return np.interp(np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0), self.x, self.y)

    def state(self) -> dict[str, Any]:
        return {"x": None if self.x is None else self.x.tolist(), "y": None if self.y is None else self.y.tolist()}


KINDS: dict[str, type[Calibrator]] = {c.kind: c for c in (Calibrator, BinnedCalibrator, IsotonicCalibrator)}


NOT_PARAMS = ("kind", "fit", "threshold", "val_scores")  # fit info; the decision threshold (evaluation.threshold)


def from_dict(data: dict[str, Any]) -> Calibrator:
    params = {k: v for k, v in data.items() if k not in NOT_PARAMS}
    kind = data.get("kind")
    if kind not in KINDS:
        raise ParasimError(f"Unknown calibration kind {kind!r}; known: {', '.join(KINDS)}")
    return KINDS[kind](**params)


def fit_report(calibrator: Calibrator, scores: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Fit on these (validation) pairs; their Brier score and ECE before and after, for the card and the JSON."""
    calibrator.fit(scores, labels)
    before, after = calibration_metrics(scores, labels), calibration_metrics(calibrator(scores), labels)
    return {"kind": calibrator.kind, "split": "val", "n": len(labels), **before,
            **{f"{k}_calibrated": v for k, v in after.items()}}


def fit_for_export(config: Any, loss: PairLoss, datamodule: Any,
                   val: ScoredSplit | None = None) -> tuple[Calibrator | None, dict[str, Any]]:
    """The `calibration` config's map fitted on the datamodule's validation split (None: no map or no pairs);
    `val` passes that split's scores when the caller has them already."""
    calibrator = instantiate(config) if config else None
    if calibrator is None or calibrator.kind == "none":
        return None, {}
    val = val if val is not None else collect_scores(loss, datamodule.val_dataloader())
    if not len(val):
        return None, {}
    log.info("calibration: scored %d validation pairs on %s", len(val), next(loss.parameters()).device)
    return calibrator, fit_report(calibrator, val.scores, val.labels)


def to_json(calibrator: Calibrator, fit_info: dict[str, Any] | None = None) -> str:
    """The map plus how it was fitted (split, pair count, Brier/ECE before and after)."""
    return json.dumps({**calibrator.to_dict(), "fit": dict(fit_info or {})}, indent=2) + "\n"


def save(calibrator: Calibrator, path: str | Path, fit_info: dict[str, Any] | None = None) -> Path:
    return write_text_atomic(path, to_json(calibrator, fit_info))


def load(path: str | Path) -> Calibrator:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ParasimError(f"{path}: cannot read the calibration map ({exc})") from exc
    return from_dict(data)


def load_optional(model_dir: str | Path) -> Calibrator | None:
    """The map an export ships with, or None when it has none."""
    path = Path(model_dir) / FILENAME
    return load(path) if path.is_file() else None
