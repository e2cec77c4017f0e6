"""Training entry point: compose → instantiate → (base test) → fit → test → export → metrics.json."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from parasim.module import ParaphraseModule
from parasim.run_artifacts import export_run, log_run_config, write_metrics, write_run_info
from parasim.utils.files import write_json_atomic
from parasim.utils.console import print_config_tree, print_metrics, user_errors
from parasim.utils.instantiate import instantiate_callbacks, instantiate_loggers
from parasim.utils.precision import resolve_precision
from parasim.utils.resolvers import register_resolvers

log = logging.getLogger(__name__)
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def build(cfg: DictConfig) -> tuple[ParaphraseModule, L.LightningDataModule]:
    """The model and the data of a composed config (no Trainer), also used by eval and tests."""
    encoder = instantiate(cfg.model)
    loss = instantiate(cfg.loss, encoder=encoder)
    datamodule = instantiate(cfg.data, tokenizer=encoder.tokenizer, unit=cfg.data.get("unit") or loss.unit)
    module = ParaphraseModule(loss, optimizer=instantiate(cfg.optimizer), scheduler=instantiate(cfg.scheduler))
    return module, datamodule


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run one training job; returns its metrics (the sweeper reads `cfg.optimized_metric` from them)."""
    started = time.perf_counter()
    with open_dict(cfg):
        cfg.trainer.precision = resolve_precision(cfg.precision.value, cfg.trainer.get("accelerator", "auto"))
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    L.seed_everything(cfg.seed, workers=True)

    module, datamodule = build(cfg)
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer = instantiate(cfg.trainer, callbacks=instantiate_callbacks(cfg.get("callbacks")), logger=loggers or False)
    log_run_config(cfg, loggers)

    datamodule.setup()
    write_run_info(output_dir, datamodule)
    if hasattr(datamodule, "dataset_card"):
        write_json_atomic(output_dir / "dataset_card.json", datamodule.dataset_card())
    if cfg.get("eval_base"):
        module.test_prefix = "base"
        trainer.test(module, datamodule=datamodule)
        module.test_prefix = "test"
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    if cfg.get("test"):
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") or None
        trainer.test(module, datamodule=datamodule, ckpt_path=best, weights_only=False)

    metrics = {k: float(v) for k, v in module.last_metrics.items()}
    metrics["time/train_job_s"] = time.perf_counter() - started
    metrics["data/prepare_s"] = datamodule.prepare_seconds
    write_metrics(output_dir, metrics)
    if cfg.export.get("enabled") and trainer.is_global_zero:
        path = export_run(cfg, module, datamodule, metrics, output_dir)
        log.info("exported sentence-transformers model to %s", path)
    print_metrics({k: v for k, v in metrics.items() if not k.endswith("/n")}, title=f"metrics ({output_dir})")
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@user_errors
def main(cfg: DictConfig) -> float | None:
    metrics = train(cfg)
    name = cfg.get("optimized_metric")
    return metrics.get(name) if name else None


def cli() -> None:
    register_resolvers()
    main()


register_resolvers()
