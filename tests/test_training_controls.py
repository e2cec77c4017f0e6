"""Training controls on real tiny-model runs: a run stopped by max_steps mid-epoch still validates, early stopping
stops, and validation every N steps resumes exactly from a checkpoint written mid-epoch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from conftest import compose_train
from parasim.train import train

QUIET = ["~callbacks.progress_bar", "export.enabled=false"]


def logged(run_dir: Path, column: str) -> dict[int, float]:
    """`column` by logged step (Lightning logs step k's values at k − 1)."""
    frame = pd.read_csv(run_dir / "csv" / "metrics.csv").dropna(subset=[column])
    return dict(zip(frame["step"].astype(int), frame[column], strict=True))


def test_a_run_stopped_by_max_steps_mid_epoch_validates_at_its_end(tmp_path: Path) -> None:
    """16 pairs in batches of 4, stopped after 2 of the 4 steps: Lightning alone would not validate."""
    metrics = train(compose_train([*QUIET, "data.limit=16", "trainer.max_steps=2"], tmp_path))
    assert {"val/roc_auc", "val/mse", "test/roc_auc"} <= set(metrics)
    assert list(logged(tmp_path, "val/mse")) == [1]  # once, after step 2
    assert (tmp_path / "checkpoints" / "epoch_000-step_2.ckpt").is_file()  # the best checkpoint, which test used


def test_early_stopping_stops_when_the_metric_stops_improving(tmp_path: Path) -> None:
    """Validating after every step with min_delta 1 (no ROC-AUC gain can count) and patience 1: the second
    validation stops a run that could go on for 20 steps."""
    metrics = train(compose_train([*QUIET, "data.limit=16", "trainer.max_epochs=5", "callbacks=early_stopping",
                                   "callbacks.early_stopping.patience=1", "callbacks.early_stopping.min_delta=1.0",
                                   "trainer.val_check_interval=1", "trainer.check_val_every_n_epoch=null",
                                   "test=false"], tmp_path))
    assert list(logged(tmp_path, "train/loss")) == [0, 1] and list(logged(tmp_path, "val/mse")) == [0, 1]
    assert "val/roc_auc" in metrics
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 2


def test_validation_every_n_steps_resumes_exactly_from_a_mid_epoch_checkpoint(tmp_path: Path) -> None:
    """Validation every 3 steps over 2 epochs of 4 steps (steps 3, 6 and the last, 8). A run stopped at step 5
    (mid-epoch, validated there) resumed from its last.ckpt ends with the weights of the full run, bit for bit,
    logging the same losses at the same steps."""
    common = [*QUIET, "test=false", "data.limit=16", "trainer.max_epochs=2", "trainer.val_check_interval=3",
              "trainer.check_val_every_n_epoch=null", "optimizer=adamw", "optimizer.lr=1e-3",
              "trainer.deterministic=true"]
    runs = {name: tmp_path / name for name in ("full", "stopped", "resumed")}
    train(compose_train(common, runs["full"]))
    train(compose_train([*common, "trainer.max_steps=5"], runs["stopped"]))
    checkpoint = runs["stopped"] / "checkpoints" / "last.ckpt"
    train(compose_train([*common, f"ckpt_path={checkpoint}"], runs["resumed"]))

    assert list(logged(runs["full"], "val/mse")) == [2, 5, 7]
    assert list(logged(runs["stopped"], "val/mse")) == [2, 4]  # every 3 steps, and at the end
    assert torch.load(checkpoint, weights_only=False)["global_step"] == 5
    full, resumed = (torch.load(runs[n] / "checkpoints" / "last.ckpt", weights_only=False) for n in ("full", "resumed"))
    assert full["global_step"] == resumed["global_step"] == 8
    assert all(torch.equal(full["state_dict"][k], resumed["state_dict"][k]) for k in full["state_dict"])
    losses = logged(runs["full"], "train/loss")
    assert logged(runs["resumed"], "train/loss") == {s: v for s, v in losses.items() if s >= 5}
    assert logged(runs["resumed"], "val/mse") == {s: v for s, v in logged(runs["full"], "val/mse").items() if s >= 5}
