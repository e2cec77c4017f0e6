"""The `export` config group's object: after training, calibrate on the validation split and write the model as
a sentence-transformers directory with its model card and calibration map."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf

import parasim
from parasim.configs import CONFIG_DIR
from parasim.evaluation import calibration, threshold
from parasim.evaluation.plots import read_training_loss
from parasim.evaluation.predict import ScoredSplit, collect_scores
from parasim.export.card import ModelCardData
from parasim.export.st_format import export_sentence_transformer
from parasim.module import ParaphraseModule
from parasim.runs import framework_versions

log = logging.getLogger(__name__)
CARD_CONFIG_KEYS = ("seed", "model", "loss", "optimizer", "scheduler", "data", "trainer", "calibration")
SEED_EXPERIMENT = CONFIG_DIR / "experiment" / "seed_card.yaml"
LOG_EVERY = 10  # steps between rows of the card's training-log table


def hyperparameters(cfg: DictConfig) -> dict[str, Any]:
    """The seed card's hyper-parameter names, read from a (composed, or partial) train config."""
    def get(key: str) -> Any:
        return OmegaConf.select(cfg, key, default=None)

    def name(key: str) -> str | None:
        target = get(key)
        return target.rsplit(".", 1)[-1] if target else None

    return {"batch_size": get("data.batch_size"), "optimizer": name("optimizer._target_"), "lr": get("optimizer.lr"),
            "momentum": get("optimizer.momentum"), "weight_decay": get("optimizer.weight_decay"),
            "scheduler": name("scheduler._target_"), "max_grad_norm": get("trainer.gradient_clip_val"),
            "epochs": get("trainer.max_epochs"), "precision": get("trainer.precision"), "seed": get("seed"),
            "paragraph_max_tokens": get("data.paragraph_max_tokens")}


def seed_defaults() -> dict[str, Any]:
    """The seed's hyper-parameters, from `conf/experiment/seed_card.yaml` and the group options it selects."""
    experiment = OmegaConf.load(SEED_EXPERIMENT)
    selected = {}
    for entry in experiment.pop("defaults", []):
        for group, option in entry.items():  # "override /optimizer": sgd
            group = group.removeprefix("override").strip().strip("/")
            selected[group] = OmegaConf.load(CONFIG_DIR / group / f"{option}.yaml")
    values = hyperparameters(OmegaConf.merge(selected, experiment))
    return {k: v for k, v in values.items() if v is not None and k != "precision"}  # precision: `auto`, per machine


def training_log(output_dir: Path) -> list[dict[str, Any]]:
    """Every `LOG_EVERY`-th step of the CSV log's train/loss and the last one, for the card's table."""
    frame = read_training_loss(output_dir)
    if frame is None or frame.empty:
        return []
    rows = sorted({*range(0, len(frame), LOG_EVERY), len(frame) - 1})
    picked = frame.iloc[rows]
    return [{"step": int(step), "train/loss": float(loss)} for step, loss in zip(picked["step"], picked["loss"],
                                                                                  strict=True)]


def decision_threshold(config: Any, val: ScoredSplit, test: tuple[Any, Any] | None,
                       calibrated: bool) -> dict[str, Any] | None:
    """The `threshold` config's decision threshold on the validation scores, with the rates reached on test.

    Without a target it is the F1-best threshold, stored beside a calibration map (`calibration=none` writes no
    calibration.json unless a target asks for one) and skipped when the validation split has only one class.
    (A target the validation split cannot support was refused before training, by `threshold.check_target`.)
    """
    config = threshold.numbers(config)
    targeted = config.get("fpr") is not None or config.get("precision") is not None
    if not len(val) or (not targeted and (not calibrated or len(set((val.labels >= 0.5).tolist())) < 2)):
        return None
    test_scores = (test[0].double().numpy(), test[1].double().numpy()) if test is not None else None
    entry = threshold.for_export(val.scores, val.labels, test_scores, config.get("fpr"), config.get("precision"))
    chosen = entry["threshold"]
    reached = chosen.get("test", {})
    if "fpr" in reached:
        low, high = reached["fpr_ci"]
        log.info("decision threshold %.4f (target %s): test FPR %.4f (95%% CI %.4f–%.4f, %d negatives)",
                 chosen["score"], chosen["target"], reached["fpr"], low, high, reached["negatives"])
    return entry


class Export:
    """Writes `dir` (a sentence-transformers model, README.md card, calibration.json) when `enabled`."""

    def __init__(self, dir: str | None = None, enabled: bool = True) -> None:
        self.dir = Path(dir) if dir else None
        self.enabled = enabled and self.dir is not None

    def __call__(self, cfg: DictConfig, module: ParaphraseModule, datamodule: L.LightningDataModule,
                 metrics: Mapping[str, float], output_dir: Path, trainer: L.Trainer) -> Path:
        """Calibrate and export on the training device, where Lightning's teardown has moved the module off
        (scoring the validation split on a CPU after GPU training takes minutes, not seconds)."""
        encoder = module.to(trainer.strategy.root_device).encoder.eval()
        loss = module.loss_fn
        val = collect_scores(loss, datamodule.val_dataloader())
        calibrator, fit = calibration.fit_for_export(cfg.get("calibration"), loss, datamodule, val=val)
        resolved = OmegaConf.to_container(cfg, resolve=True)
        card = ModelCardData.from_encoder(
            encoder, loss, base_model=encoder.name,
            hyperparameters={**hyperparameters(cfg), "precision": trainer.precision},
            calibrator=calibrator, defaults=seed_defaults(), calibration=fit,
            metrics={k: v for k, v in metrics.items() if k.split("/")[0] in ("base", "val", "test")},
            dataset=datamodule.dataset_card() if hasattr(datamodule, "dataset_card") else None,
            train_log=training_log(output_dir), versions={"parasim": parasim.__version__, **framework_versions()},
            config_yaml=OmegaConf.to_yaml({k: resolved[k] for k in CARD_CONFIG_KEYS if k in resolved}),
        ).render()
        stored = calibration.to_json(calibrator, fit) if calibrator else None
        decision = decision_threshold(cfg.get("threshold"), val, module.last_scores.get("test"), stored is not None)
        if decision is not None:
            stored = threshold.add_to_json(stored, decision)
        extra = {calibration.FILENAME: stored} if stored else None
        path = export_sentence_transformer(encoder, self.dir, card, extra_files=extra)
        log.info("exported sentence-transformers model to %s", path)
        return path
