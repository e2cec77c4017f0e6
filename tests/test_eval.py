"""Evaluation: metrics, calibration maps, plots, the eval CLI (tiny and real weights), checkpoint/export paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, f1_score

from conftest import ROOT, compose_eval, needs_weights
from parasim.evaluation import calibration
from parasim.evaluation.metrics import best_threshold, calibration_metrics, threshold_metrics

SMALL_TINY = ["model=mpnet_tiny", "data.limit=24", "device=cpu"]
SPLIT_KEYS = ["mse", "roc_auc", "avg_precision", "f1", "accuracy", "n", "brier", "ece", "brier_calibrated",
              "ece_calibrated"]
SCORER_KEYS = ["roc_auc", "avg_precision", "f1", "best_f1", "threshold"]


def run_script(script: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    return subprocess.run([sys.executable, f"scripts/{script}", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=900)


def assert_image(path: Path) -> None:
    """A readable PNG with real content: 2-D or more, and not a single flat colour."""
    assert path.is_file() and path.stat().st_size > 0, path
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50, pixels.shape
    assert float(pixels[..., :3].std()) > 0.01, f"{path} is a flat image"


def noisy_scores(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Scores in [0, 1] whose positive rate rises with the score, with label noise (non-monotone bin rates)."""
    rng = np.random.default_rng(seed)
    scores = rng.beta(2, 2, n)
    labels = (rng.random(n) < scores**2).astype(float)
    return scores, labels


# ------------------------------------------------------------------------------------------------ metrics


def test_threshold_chosen_on_val_and_applied_to_test() -> None:
    val_scores, val_labels = noisy_scores(200, seed=1)
    test_scores, test_labels = noisy_scores(300, seed=2)
    threshold = best_threshold(val_scores, val_labels)
    # the threshold maximises validation F1 over every cut of the sorted scores
    cuts = np.unique(val_scores)
    best = max(f1_score(val_labels, val_scores >= c) for c in cuts)
    assert f1_score(val_labels, val_scores >= threshold) == pytest.approx(best)
    assert not np.any(val_scores == threshold)
    got = threshold_metrics(test_scores, test_labels, threshold)
    assert got["f1"] == pytest.approx(f1_score(test_labels, test_scores >= threshold), abs=1e-6)
    assert got["accuracy"] == pytest.approx(accuracy_score(test_labels, test_scores >= threshold), abs=1e-6)


def test_calibration_metrics_brier_and_ece() -> None:
    labels = np.array([0, 0, 1, 1], dtype=float)
    probabilities = np.array([0.1, 0.3, 0.6, 0.9])
    got = calibration_metrics(probabilities, labels)
    assert got["brier"] == pytest.approx(np.mean((probabilities - labels) ** 2), abs=1e-6)
    # one pair per occupied bin: ECE is the mean |p - y|
    assert got["ece"] == pytest.approx(np.mean(np.abs(probabilities - labels)), abs=1e-6)


# ------------------------------------------------------------------------------------------------ calibration


def test_binned_map_is_monotone_fills_empty_bins_and_lowers_brier(tmp_path: Path) -> None:
    scores, labels = noisy_scores(150)
    raw = calibration.BinnedCalibrator(bins=100, monotone=False).fit(scores, labels)
    assert np.any(np.diff(raw.values) < 0), "the raw bin rates of this fixture wiggle"
    calibrator = calibration.BinnedCalibrator(bins=100).fit(scores, labels)
    grid = np.linspace(0, 1, 2001)
    mapped = calibrator(grid)
    assert np.all(np.diff(mapped) >= 0), "calibrated scores must be non-decreasing in the raw score"
    assert np.all((mapped >= 0) & (mapped <= 1))
    assert len(calibrator.values) == 100
    before, after = calibration_metrics(scores, labels), calibration_metrics(calibrator(scores), labels)
    assert after["brier"] < before["brier"]
    # an empty bin between two filled ones takes a value between theirs
    filled = np.bincount(calibrator._bin(scores), minlength=100) > 0
    empty = [i for i in range(1, 99) if not filled[i] and filled[:i].any() and filled[i + 1:].any()]
    assert empty, "the fixture should leave empty bins inside the score range"
    for i in empty:
        lo, hi = np.flatnonzero(filled[:i])[-1], i + 1 + np.flatnonzero(filled[i + 1:])[0]
        assert calibrator.values[lo] <= calibrator.values[i] <= calibrator.values[hi]
    path = calibration.save(calibrator, tmp_path / "calibration.json", {"split": "val"})
    assert json.loads(path.read_text())["kind"] == "binned"
    np.testing.assert_array_equal(calibration.load(path)(grid), mapped)


def test_binned_map_without_monotone_keeps_raw_rates() -> None:
    scores = np.array([0.105, 0.205, 0.206, 0.305])
    labels = np.array([1.0, 0.0, 1.0, 0.0])
    calibrator = calibration.BinnedCalibrator(bins=10, monotone=False).fit(scores, labels)
    assert calibrator(np.array([0.1, 0.2, 0.3])).tolist() == [1.0, 0.5, 0.0]
    monotone = calibration.BinnedCalibrator(bins=10).fit(scores, labels)
    assert np.all(np.diff(monotone(np.linspace(0, 1, 101))) >= 0)


def test_isotonic_map_matches_sklearn_and_roundtrips(tmp_path: Path) -> None:
    scores, labels = noisy_scores(120, seed=3)
    calibrator = calibration.IsotonicCalibrator().fit(scores, labels)
    reference = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(scores, labels)
    grid = np.linspace(-0.2, 1.2, 777)
    np.testing.assert_allclose(calibrator(grid), reference.predict(np.clip(grid, 0, 1)), atol=1e-12)
    assert np.all(np.diff(calibrator(grid)) >= 0)
    loaded = calibration.load(calibration.save(calibrator, tmp_path / "c.json"))
    np.testing.assert_array_equal(loaded(grid), calibrator(grid))


def test_no_calibration_exports_no_map() -> None:
    assert calibration.fit_for_export({"_target_": "parasim.evaluation.calibration.Calibrator"}, None, None) == (
        None, {})


# ------------------------------------------------------------------------------------------------ eval CLI


def check_eval_dir(run: Path, subsets: list[str], scorers: list[str]) -> dict[str, float]:
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("val", "test"):
        for key in SPLIT_KEYS:
            assert f"{split}/{key}" in metrics, f"{split}/{key}"
        for subset in subsets:
            assert f"{split}/{subset}/roc_auc" in metrics
    assert "val/threshold" in metrics
    for name in scorers:
        for key in SCORER_KEYS:
            assert f"test/scorers/{name}/{key}" in metrics, f"{name}/{key}"
    for name in ("test/mse", "test/roc_auc", *(f"test/scorers/{n}/roc_auc" for n in scorers)):  # bootstrap intervals
        assert metrics[f"{name}_low"] <= metrics[name] <= metrics[f"{name}_high"], name
    for name in scorers:
        assert (f"test/scorers/{name}/diff_roc_auc" in metrics) == (name != "sef1" and "sef1" in scorers), name
    report = (run / "metrics.md").read_text()
    assert "95 % bootstrap intervals" in report
    row = f"| test | all | {int(metrics['test/n'])} | {metrics['test/mse']:.4f} | {metrics['test/roc_auc']:.4f}"
    assert row in report
    assert "Scorers side by side" in report and "BLEU" in report
    for subset in subsets:
        assert_image(run / f"hist_test_{subset}.png")
    assert_image(run / "reliability_val.png")
    assert_image(run / "reliability_test.png")
    scores = pd.read_csv(run / "scores.csv")
    assert (scores["split"] == "test").sum() == metrics["test/n"]
    if "sef1" in scorers:  # the datamodule path and the text path give the same SE-F1
        np.testing.assert_allclose(scores["score"], scores["sef1"], atol=1e-5)
    return metrics


def test_eval_cli_tiny_with_wandb_offline(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_script("eval.py", *SMALL_TINY, "logger=wandb", f"hydra.run.dir={run}",
                        f"data.cache_dir={tmp_path}/prepared")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = check_eval_dir(run, ["mtmp_pan"], ["sef1", "cosine", "bertscore", "bleu"])
    assert metrics["test/n"] == 24
    logged = pd.read_csv(run / "csv" / "metrics.csv")
    assert logged["test/roc_auc"].dropna().iloc[0] == pytest.approx(metrics["test/roc_auc"])
    images = list(run.glob("wandb/offline-run-*/files/media/images/plots/*.png"))
    assert {p.name.split("_")[0] for p in images} >= {"hist", "reliability"}, images


def test_eval_from_checkpoint_and_export_reproduces_training(train_cfg, tmp_path: Path) -> None:
    from parasim.evaluate import evaluate
    from parasim.train import train

    cfg = train_cfg(["data.limit=40", "trainer.max_epochs=1"])
    trained = train(cfg)
    ckpt = next((tmp_path / "checkpoints").glob("epoch_*.ckpt"))
    common = ["model=mpnet_tiny", "data.limit=40", "device=cpu", "scorers=[sef1]"]
    from_ckpt = evaluate(compose_eval([*common, f"ckpt_path={ckpt}"], tmp_path / "eval_ckpt"))
    from_export = evaluate(compose_eval([*common, f"model_dir={tmp_path / 'export'}", "calibration=isotonic",
                                         "threshold.fpr=0.2"], tmp_path / "eval_export"))
    for metrics in (from_ckpt, from_export):
        for key in ("test/mse", "test/roc_auc", "val/mse"):
            assert metrics[key] == pytest.approx(trained[key], abs=1e-5), key
    untrained = evaluate(compose_eval(common, tmp_path / "eval_base"))
    assert untrained["test/mse"] != pytest.approx(trained["test/mse"], abs=1e-6)
    # the training run's loss log is found next to the checkpoint / export and plotted (10 steps > 8)
    assert_image(tmp_path / "eval_ckpt" / "loss_curve.png")
    assert_image(tmp_path / "eval_export" / "loss_curve.png")
    assert not (tmp_path / "eval_base" / "loss_curve.png").exists()
    stored = json.loads((tmp_path / "eval_export" / "calibration.json").read_text())
    assert stored["kind"] == "isotonic" and stored["threshold"]["target"]  # the map and the decision threshold
    assert from_export["test/fpr_ci_low"] <= from_export["test/fpr"] <= from_export["test/fpr_ci_high"]
    assert "test/fpr" not in from_ckpt  # no target, no decision threshold


def test_eval_rejects_checkpoint_of_another_model(tmp_path: Path) -> None:
    import torch

    from parasim.errors import ParasimError
    from parasim.evaluate import evaluate
    from parasim.losses import SEF1MSELoss
    from parasim.models.encoder import build_tiny
    from parasim.weights import model_dir

    loss = SEF1MSELoss(build_tiny(model_dir()))  # hidden size 32, stored as a ParaphraseModule checkpoint would
    ckpt = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": {f"loss_fn.{k}": v for k, v in loss.state_dict().items()}}, ckpt)
    with pytest.raises(ParasimError, match="does not fit"):
        evaluate(compose_eval(["model=mpnet_tiny", "model.hidden_size=64", "model.num_heads=4",
                               f"ckpt_path={ckpt}"], tmp_path / "eval"))


@needs_weights
@pytest.mark.slow
@pytest.mark.weights
def test_eval_cli_real_weights(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_script("eval.py", "data.limits.train=8", "data.limits.val=32", "data.limits.test=32",
                        f"hydra.run.dir={run}", f"data.cache_dir={tmp_path}/prepared")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = check_eval_dir(run, ["mtmp_pan"], ["sef1", "cosine", "bertscore", "bleu"])
    assert metrics["test/n"] == 32 and metrics["val/n"] == 32
    # all-mpnet-base-v2 separates MTMP-PAN paraphrases from non-paraphrases well before any fine-tuning
    assert metrics["test/roc_auc"] > 0.8
    calibrator = calibration.load(run / "calibration.json")
    assert np.all(np.diff(calibrator(np.linspace(0, 1, 1001))) >= 0)
    assert metrics["val/brier_calibrated"] < metrics["val/brier"]
