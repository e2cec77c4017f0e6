"""Scoring entry point: paragraph pairs in, SE-F1 (calibrated when the export ships a map) and cosine out.

`python scripts/score.py model_dir=DIR input=IN output=OUT`. Every distinct sentence and paragraph is
embedded once, without gradients, in length-sorted batches; output rows keep the input's order, and
every input column except the two paragraphs (e.g. `label`, an id) is passed through.
"""

from __future__ import annotations

import sys

import hydra

from parasim.configs import CONFIG_DIR
from parasim.evaluation import calibration
from parasim.evaluation.embedding import resolve_device
from parasim.evaluation.pairs_io import read_rows, texts, write_rows
from parasim.evaluation.scorers import score_texts
from parasim.models.encoder import load_pretrained
from parasim.task import Job, Metrics, entry


def score_job(job: Job) -> Metrics:
    """Score every row of `input` and write `output`; a scoring run has no metric to optimise."""
    cfg = job.cfg
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
    return {}


main = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="score")(entry(score_job))


def cli() -> None:
    main()
