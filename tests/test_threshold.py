"""Decision thresholds for a target false-positive rate or precision: chosen on val, refused when val is too small,
stored with the calibration in the export (old exports still load), reported on test with exact intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from parasim.errors import ParasimError
from parasim.evaluation import calibration, threshold
from parasim.train import train


def scores(n_neg: int, n_pos: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.r_[rng.beta(2, 5, n_neg), rng.beta(5, 2, n_pos)], np.r_[np.zeros(n_neg), np.ones(n_pos)]


@pytest.mark.parametrize("fpr", [0.01, 0.05, 0.2])
def test_fpr_target_is_the_lowest_threshold_that_meets_it_on_val(fpr: float) -> None:
    s, y = scores(1000, 400)
    chosen = threshold.choose(s, y, fpr=fpr)
    t, negatives = chosen["score"], s[y == 0]
    assert (negatives >= t).mean() <= fpr
    lower = np.sort(s[s < t])[-1]  # the next validation score below the threshold
    assert (negatives >= lower).mean() > fpr  # any lower cut would exceed the target
    assert chosen["target"] == {"fpr": fpr} and chosen["val"]["fpr"] <= fpr
    assert not np.any(s == t)  # midway between validation scores


def test_precision_target_keeps_the_most_recall() -> None:
    s, y = scores(600, 300, seed=3)
    chosen = threshold.choose(s, y, precision=0.9)
    t = chosen["score"]
    assert chosen["val"]["precision"] >= 0.9
    cuts = np.unique(s[s < t])
    assert all(y[s >= c].mean() < 0.9 for c in cuts[-20:])  # every lower cut falls short of the precision


def test_a_target_the_validation_negatives_cannot_support_is_refused_with_the_count_needed() -> None:
    s, y = scores(120, 60)
    with pytest.raises(ParasimError, match=r"threshold.fpr=0.01 needs at least 300 validation negatives.*has 120"):
        threshold.choose(s, y, fpr=0.01)
    threshold.choose(s, y, fpr=0.025)  # 3 / 0.025 = 120: just enough
    with pytest.raises(ParasimError, match="needs at least"):
        threshold.check_target({"fpr": 0.01}, y)
    with pytest.raises(ParasimError, match="one of threshold.fpr and threshold.precision"):
        threshold.choose(s, y, fpr=0.1, precision=0.9)


def test_rates_give_exact_clopper_pearson_intervals() -> None:
    labels = np.r_[np.zeros(100), np.ones(10)]
    values = np.r_[np.zeros(100), np.ones(10)]
    reached = threshold.rates(values, labels, 0.5)
    assert reached["fpr"] == 0.0 and reached["fpr_ci"][0] == 0.0
    assert reached["fpr_ci"][1] == pytest.approx(1 - 0.025 ** (1 / 100), abs=1e-9)  # 0 of n: upper = 1-(α/2)^(1/n)
    values[:3] = 1.0  # 3 false positives of 100
    reached = threshold.rates(values, labels, 0.5)
    assert reached["fpr"] == 0.03 and reached["fpr_ci"] == pytest.approx([0.006229, 0.085176], abs=1e-5)
    assert reached["precision"] == pytest.approx(10 / 13) and reached["recall"] == 1.0


def test_export_json_is_backward_compatible_and_retargets(tmp_path: Path) -> None:
    s, y = scores(400, 200)
    calibrator = calibration.BinnedCalibrator(bins=10).fit(s, y)
    old = calibration.to_json(calibrator)  # what exports held before thresholds
    (tmp_path / calibration.FILENAME).write_text(threshold.add_to_json(old, threshold.for_export(s, y, (s, y))))
    loaded = calibration.load_optional(tmp_path)
    np.testing.assert_array_equal(loaded(s), calibrator(s))
    stored = threshold.resolve(tmp_path, {})
    assert stored["target"] == {"f1": "max"} and "fpr_ci" in stored["test"]
    assert threshold.resolve(tmp_path, {"fpr": 0.05})["score"] == threshold.choose(s, y, fpr=0.05)["score"]
    assert threshold.resolve(tmp_path, {"score": 0.7})["score"] == 0.7
    (tmp_path / calibration.FILENAME).write_text(old)
    assert threshold.resolve(tmp_path, {}) is None
    with pytest.raises(ParasimError, match="no validation scores"):
        threshold.resolve(tmp_path, {"fpr": 0.05})


def test_training_export_stores_the_threshold_with_its_test_rates(train_cfg, tmp_path: Path) -> None:
    """A real (tiny) training run: the target is checked before training and the export holds what it reached."""
    with pytest.raises(ParasimError, match="needs at least 300 validation negatives"):
        train(train_cfg(["trainer.max_steps=1", "data.limit=16", "threshold.fpr=0.01"]))
    assert not (tmp_path / "checkpoints").exists()  # refused before training
    train(train_cfg(["trainer.max_steps=1", "data.limit=40", "threshold.fpr=0.15"]))
    stored = json.loads((tmp_path / "export" / calibration.FILENAME).read_text())
    chosen = stored["threshold"]
    assert chosen["target"] == {"fpr": 0.15} and chosen["val"]["fpr"] <= 0.15
    assert chosen["test"]["negatives"] + chosen["test"]["positives"] == 40 and len(chosen["test"]["fpr_ci"]) == 2
    assert len(stored["val_scores"]["negatives"]) == chosen["val"]["negatives"] >= 20  # 3 / 0.15
    assert calibration.load_optional(tmp_path / "export") is not None
