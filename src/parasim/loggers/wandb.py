"""One W&B run per Hydra job: offline unless configured, grouped per multirun, named from overrides, resumable.

Only identity fields the user left unset are filled in, so `logger.wandb.group=…` and friends still win.
The API key is never read into the config: the mode says "online" when one is set, wandb reads it itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig, open_dict

TARGET = "parasim.loggers.WandbLogger"  # what conf/logger/wandb.yaml builds


def wandb_mode() -> str | None:
    """None lets wandb follow WANDB_MODE; else online when WANDB_API_KEY is set, offline otherwise."""
    if os.environ.get("WANDB_MODE"):
        return None
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def configure_wandb(cfg: DictConfig, resume_id: str | None = None) -> None:
    """Fill the W&B logger's unset mode, group, name and id from the Hydra job (in place)."""
    confs = [c for c in (cfg.get("logger") or {}).values()
             if isinstance(c, DictConfig) and c.get("_target_") in (TARGET, "lightning.pytorch.loggers.WandbLogger")]
    hydra = HydraConfig.get() if HydraConfig.initialized() else None
    with open_dict(cfg):
        for conf in confs:
            conf.mode = conf.get("mode") or wandb_mode()
            if not conf.get("group") and hydra is not None and hydra.mode == RunMode.MULTIRUN:
                conf.group = f"{cfg.task_name}-{Path(hydra.sweep.dir).name}"
            if not conf.get("name"):
                conf.name = (hydra.job.override_dirname if hydra is not None else "") or cfg.task_name
            if resume_id and not conf.get("id"):
                conf.id = resume_id


def wandb_loggers(loggers: Iterable[Logger]) -> list[WandbLogger]:
    return [lg for lg in loggers if isinstance(lg, WandbLogger)]


def run_id(loggers: Iterable[Logger]) -> str | None:
    return next((lg.version for lg in wandb_loggers(loggers)), None)


def finish(loggers: Iterable[Logger], exit_code: int) -> None:
    """Flush every logger and close the job's W&B run inside the job (else the next job of a multirun logs into
    it); a non-zero exit code marks it failed."""
    loggers = list(loggers)
    for logger in loggers:
        logger.finalize("success" if exit_code == 0 else "failed")
    if wandb_loggers(loggers):
        import wandb

        wandb.finish(exit_code=exit_code)


def log_images(loggers: Iterable[Logger], images: Iterable[Path]) -> None:
    """Each PNG as a `wandb.Image` under `plots/<file stem>`, for every active W&B logger."""
    images = list(images)
    for logger in wandb_loggers(loggers):
        for image in images:
            logger.log_image(key=f"plots/{image.stem}", images=[str(image)])


def log_table(loggers: Iterable[Logger], key: str, columns: list[str], rows: list[list]) -> None:
    """One table (the evaluation suite's) as a `wandb.Table` under `key`, for every active W&B logger."""
    for logger in wandb_loggers(loggers):
        logger.log_table(key=key, columns=columns, data=rows)
