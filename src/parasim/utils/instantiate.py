"""Callbacks and loggers from `_target_` dicts, so configs add or drop them without code changes."""

from __future__ import annotations

from hydra.utils import instantiate
from lightning import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig


def _from_group(group: DictConfig | None) -> list:
    if not group:
        return []
    return [instantiate(conf) for conf in group.values() if isinstance(conf, DictConfig) and "_target_" in conf]


def instantiate_callbacks(cfg: DictConfig | None) -> list[Callback]:
    return _from_group(cfg)


def instantiate_loggers(cfg: DictConfig | None) -> list[Logger]:
    return _from_group(cfg)
