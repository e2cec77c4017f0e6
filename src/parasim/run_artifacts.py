"""What a run leaves behind besides checkpoints: logged config, run info, metrics.json, the export."""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

import parasim
from parasim.data.datamodule import PairDataModule
from parasim.evaluation.calibration import FILENAME as CALIBRATION_FILE
from parasim.evaluation.calibration import fit_for_export
from parasim.evaluation.calibration import to_json as calibration_json
from parasim.export.card import build_model_card, inner_loss_config, run_config_yaml
from parasim.export.st_format import export_sentence_transformer, framework_versions
from parasim.module import ParaphraseModule
from parasim.utils.files import write_json_atomic

SEED_DEFAULTS = {"batch_size": 4, "optimizer": "SGD", "lr": 5e-5, "momentum": 0.0, "weight_decay": 0.0,
                 "scheduler": "constant", "max_grad_norm": 2.0, "epochs": 1, "seed": 42}


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(parasim.__file__).parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def git_dirty() -> bool | None:
    """Whether the working tree had uncommitted changes: the commit alone does not reproduce the run then."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                             text=True, timeout=10, cwd=Path(parasim.__file__).parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None


def log_run_config(cfg: DictConfig, loggers: list[Logger]) -> None:
    """The full resolved config as the loggers' hyper-parameters (W&B run config)."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for logger in loggers:
        logger.log_hyperparams(resolved)


def write_run_info(output_dir: Path, datamodule: PairDataModule, **extra: Any) -> None:
    """What replaying the run needs beyond .hydra/: code version, data fingerprint, and `extra` (seed, resume)."""
    write_json_atomic(output_dir / "run_info.json", {
        "parasim_version": parasim.__version__,
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "data_fingerprint": datamodule.corpus.fingerprint if datamodule.corpus else None,
        "versions": framework_versions(),
        **extra,
    })


def write_metrics(output_dir: Path, metrics: Mapping[str, float]) -> Path:
    """NaN (a metric undefined on one-class data) is written as null, keeping the file valid JSON."""
    return write_json_atomic(output_dir / "metrics.json", {k: None if v != v else v for k, v in metrics.items()})


def hyperparameters(cfg: DictConfig) -> dict[str, Any]:
    """The seed card's hyper-parameter names, read from the composed config."""
    return {
        "batch_size": cfg.data.batch_size,
        "optimizer": cfg.optimizer._target_.rsplit(".", 1)[-1],
        "lr": cfg.optimizer.lr,
        "momentum": cfg.optimizer.get("momentum", None),
        "weight_decay": cfg.optimizer.get("weight_decay", 0.0),
        "scheduler": cfg.scheduler._target_.rsplit(".", 1)[-1],
        "max_grad_norm": cfg.trainer.gradient_clip_val,
        "epochs": cfg.trainer.max_epochs,
        "precision": cfg.trainer.precision,
        "seed": cfg.seed,
        "paragraph_max_tokens": cfg.data.get("paragraph_max_tokens"),
    }


def training_log(output_dir: Path, every: int = 10) -> list[dict[str, Any]]:
    """Every `every`-th step of the CSV log's train/loss, for the card's training-log table."""
    path = output_dir / "csv" / "metrics.csv"
    if not path.is_file():
        return []
    with path.open() as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("train/loss")]
    picked = rows[::every] + ([rows[-1]] if rows and (len(rows) - 1) % every else [])
    return [{"step": int(r["step"]), "train/loss": float(r["train/loss"])} for r in picked]


def export_run(cfg: DictConfig, module: ParaphraseModule, datamodule: PairDataModule, metrics: Mapping[str, float],
               output_dir: Path, device: torch.device | str = "cpu") -> Path:
    """Calibrate on the validation split and export, on `device`: the training device, where Lightning's teardown
    has moved the module off (scoring the validation split on a CPU after GPU training takes minutes, not seconds)."""
    encoder = module.to(device).encoder.eval()
    loss = module.loss_fn
    calibrator, calibration = fit_for_export(cfg.get("calibration"), loss, datamodule)
    card = build_model_card(
        encoder,
        loss_name=getattr(loss, "card_name", type(loss).__name__),
        loss_config={**loss.get_config_dict(), "inner_loss": inner_loss_config(loss.inner)},
        hyperparameters=hyperparameters(cfg),
        defaults=SEED_DEFAULTS,
        metrics={k: v for k, v in metrics.items() if k.split("/")[0] in ("base", "val", "test")},
        dataset=datamodule.dataset_card() if hasattr(datamodule, "dataset_card") else None,
        train_log=training_log(output_dir),
        versions={"parasim": parasim.__version__, **framework_versions()},
        calibrator=calibrator,
        calibration=calibration,
        config_yaml=run_config_yaml(cfg),
    )
    extra = {CALIBRATION_FILE: calibration_json(calibrator, calibration)} if calibrator else None
    return export_sentence_transformer(encoder, cfg.export.dir, card, extra_files=extra)
