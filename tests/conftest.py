"""Shared fixtures: composed configs pinned to CPU, fp32, the tiny model, and a temp output dir."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from parasim.utils.resolvers import register_resolvers
from parasim.weights import is_complete, model_dir

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
register_resolvers()

needs_weights = pytest.mark.skipif(
    not is_complete(model_dir()) and not os.environ.get("CI"),
    reason="all-mpnet-base-v2 not in the cache (run `make weights`); CI always fetches it",
)


PINNED = ["model=mpnet_tiny", "logger=csv", "precision=32-true", "trainer=cpu", "eval_base=false"]


def compose_train(overrides: list[str] | None = None, output_dir: Path | None = None, pin: bool = True) -> DictConfig:
    """The train config as a test wants it: CPU, 32-true, tiny model, CSV logger, temp paths."""
    base = PINNED if pin else []
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=base + (overrides or []))
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.root_dir = str(ROOT)
            cfg.paths.log_dir = str(output_dir)
            cfg.paths.output_dir = str(output_dir)
            cfg.data.cache_dir = str(output_dir / "prepared")
    return cfg


@pytest.fixture
def train_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    return lambda overrides=None: compose_train(overrides, tmp_path)
