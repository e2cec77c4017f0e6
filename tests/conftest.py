"""Shared fixtures: composed configs pinned to CPU, fp32, the tiny model, and a temp output dir."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from parasim.configs import CONFIG_DIR
from parasim.data.collate import PairCollator
from parasim.data.splitter import split_sentences
from parasim.models.batching import BATCH_TOKENS, PairBatch, Planner
from parasim.models.encoder import SentenceEncoder, build_tiny
from parasim.weights import MINILM, is_complete, model_dir

ROOT = Path(__file__).resolve().parents[1]
CONF = CONFIG_DIR  # importing parasim.configs registers the resolvers the configs use

needs_weights = pytest.mark.skipif(
    not is_complete(model_dir()) and not os.environ.get("CI"),
    reason="all-mpnet-base-v2 not in the cache (run `make weights`); CI always fetches it",
)
needs_minilm = pytest.mark.skipif(
    not is_complete(model_dir(MINILM.name)) and not os.environ.get("CI"),
    reason="all-MiniLM-L6-v2 not in the cache (run `make weights`); CI always fetches it",
)


PINNED = ["model=mpnet_tiny", "logger=csv", "trainer.precision=32-true", "trainer=cpu", "eval_base=false"]


def compose_train(overrides: list[str] | None = None, output_dir: Path | None = None, pin: bool = True) -> DictConfig:
    """The train config as a test wants it: CPU, 32-true, tiny model, CSV logger, temp paths."""
    base = PINNED if pin else []
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=base + (overrides or []))
    return _write_under(cfg, output_dir)


def compose_eval(overrides: list[str] | None = None, output_dir: Path | None = None) -> DictConfig:
    """The eval config (`scripts/eval.py`), writing under `output_dir`."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("eval", overrides=overrides or [])
    return _write_under(cfg, output_dir)


def _write_under(cfg: DictConfig, output_dir: Path | None) -> DictConfig:
    """Outputs, logs and the prepared-data cache under `output_dir` (none: the config's own paths)."""
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


# Paragraph pairs with the cases SE-F1 must handle: reordered and missing sentences, `?`/`!`/newline
# terminators, an empty side.
PAIRS = [
    ("The cat sat. It purred loudly! Then it slept.", "A cat was sitting. Then it slept.", 1.0),
    ("Stocks fell sharply today.", "The weather is lovely? Rain is coming.\nBring a coat.", 0.0),
    ("", "Empty on the other side.", 0.0),
    ("Wait... what? No way.", "No way. Wait... what?", 1.0),
]


def tiny(packed: bool = True, seed: int = 1) -> SentenceEncoder:
    """The tiny MPNet (real tokenizer, random weights, with a pooler) in eval mode: dropout off."""
    encoder = build_tiny(model_dir(), seed=seed).eval()
    encoder.packed = packed
    return encoder


def pair_batch(encoder: SentenceEncoder, pairs=PAIRS, batch_tokens: int = BATCH_TOKENS,
               min_fill: float | None = None) -> PairBatch:
    """`pairs` collated as the datamodule does, laid out for `encoder` (its packing setting) with this budget/fill."""
    units: dict[str, int] = {}
    items = []
    for i, (a, b, label) in enumerate(pairs):
        items.append(([units.setdefault(s, len(units)) for s in split_sentences(a)],
                      [units.setdefault(s, len(units)) for s in split_sentences(b)], label, 0, i))
    planner = Planner(encoder.tokenizer.pad_token_id, batch_tokens, min_fill, encoder.packed)
    return PairCollator(encoder.tokenize(list(units)), planner)(items)
