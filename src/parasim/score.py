"""Scoring entry point: paragraph pairs in, SE-F1 (calibrated when the export ships a map) and cosine out.

`python scripts/score.py model_dir=DIR input=IN output=OUT`. Every distinct sentence and paragraph is
embedded once, without gradients, in length-sorted batches; output rows keep the input's order, and
every input column except the two paragraphs (e.g. `label`, an id) is passed through.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from parasim.evaluation import calibration
from parasim.evaluation.embedding import resolve_device
from parasim.evaluation.pairs_io import read_rows, texts, write_rows
from parasim.evaluation.scorers import score_texts
from parasim.models.encoder import load_pretrained
from parasim.utils.console import user_errors
from parasim.utils.resolvers import register_resolvers

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def score(cfg: DictConfig) -> list[dict[str, Any]]:
    """Score every row of `cfg.input` and write `cfg.output`; returns the output rows."""
    rows = read_rows(str(cfg.input), cfg.format)
    where = "stdin" if cfg.input == "-" else str(cfg.input)
    first, second = texts(rows, cfg.text_a, where), texts(rows, cfg.text_b, where)
    encoder = load_pretrained(cfg.model_dir, batch_tokens=cfg.batch_tokens).eval().to(resolve_device(cfg.device))
    calibrator = calibration.load_optional(cfg.model_dir)
    scores = score_texts(encoder, first, second, ["sef1", "cosine"], progress=cfg.progress)
    calibrated = calibrator(scores["sef1"]) if calibrator is not None else None
    out = []
    for i, row in enumerate(rows):
        record = {k: v for k, v in row.items() if k not in (cfg.text_a, cfg.text_b)}
        record["sef1"] = float(scores["sef1"][i])
        if calibrated is not None:
            record["calibrated"] = float(calibrated[i])
        record["cosine"] = float(scores["cosine"][i])
        out.append(record)
    write_rows(str(cfg.output), out)
    if cfg.output != "-":
        print(f"scored {len(out)} pairs → {cfg.output}", file=sys.stderr)
    return out


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="score")
@user_errors
def main(cfg: DictConfig) -> None:
    score(cfg)


def cli() -> None:
    register_resolvers()
    main()
