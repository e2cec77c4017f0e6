"""Scoring entry point: paragraph pairs in, SE-F1 (calibrated when the export ships a map) and cosine out.

`python scripts/score.py model_dir=DIR input=IN output=OUT`. Every distinct sentence and paragraph is
embedded once, without gradients, in length-sorted batches; output rows keep the input's order, and
every input column except the two paragraphs (e.g. `label`, an id) is passed through. `explain=true` adds each
pair's sentence alignment (the evidence behind its SE-F1), `report=FILE.html` writes the HTML report, and a
decision threshold (the export's, `threshold.fpr=…`/`threshold.precision=…` re-chosen on its validation scores,
or `threshold.score=…`) adds a `paraphrase` column.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import hydra
from lightning.pytorch.loggers import WandbLogger

from parasim.configs import CONFIG_DIR
from parasim.evaluation import calibration, threshold
from parasim.evaluation.embedding import resolve_device
from parasim.evaluation.pairs_io import read_rows, texts, write_rows
from parasim.evaluation.scorers import score_texts
from parasim.evidence import report
from parasim.evidence.alignment import explain
from parasim.loggers.wandb import wandb_mode
from parasim.models.encoder import load_pretrained
from parasim.task import Job, Metrics, entry


def score_job(job: Job) -> Metrics:
    """Score every row of `input` and write `output`; a scoring run has no metric to optimise."""
    cfg = job.cfg
    rows = read_rows(str(cfg.input), cfg.format)
    where = "stdin" if cfg.input == "-" else str(cfg.input)
    first, second = texts(rows, cfg.text_a, where), texts(rows, cfg.text_b, where)
    decide = threshold.resolve(cfg.model_dir, cfg.get("threshold"))
    encoder = load_pretrained(cfg.model_dir, batch_tokens=cfg.batch_tokens).eval().to(resolve_device(cfg.device))
    calibrator = calibration.load_optional(cfg.model_dir)
    evidence = bool(cfg.explain or cfg.report)
    scores = score_texts(encoder, first, second, ["cosine"] if evidence else ["sef1", "cosine"], progress=cfg.progress)
    if evidence:  # the same SE-F1 as without evidence, from the embeddings its alignments are built from
        scores["sef1"], alignments = explain(encoder, first, second, progress=cfg.progress)
    calibrated = calibrator(scores["sef1"]) if calibrator is not None else None
    out = []
    for i, row in enumerate(rows):
        record = {k: v for k, v in row.items() if k not in (cfg.text_a, cfg.text_b)}
        record["sef1"] = float(scores["sef1"][i])
        if calibrated is not None:
            record["calibrated"] = float(calibrated[i])
        record["cosine"] = float(scores["cosine"][i])
        if decide is not None:
            record["paraphrase"] = bool(scores["sef1"][i] >= decide["score"])
        if cfg.explain:
            alignment = alignments[i].to_dict()
            record["alignment"] = alignment if str(cfg.output).endswith((".jsonl", ".json")) or cfg.output == "-" \
                else json.dumps(alignment, ensure_ascii=False)
        out.append(record)
    write_rows(str(cfg.output), out)
    if cfg.output != "-":
        print(f"scored {len(out)} pairs → {cfg.output}", file=sys.stderr)
    if evidence and (cfg.report or cfg.wandb.enabled):
        pairs = [report.ReportPair(_name(row, i), first[i], second[i], alignments[i], float(scores["sef1"][i]),
                                   None if calibrated is None else float(calibrated[i]),
                                   None if decide is None else out[i]["paraphrase"], _details(row, cfg))
                 for i, row in enumerate(rows)]
        meta = {"model": cfg.model_dir, "input": where, "pairs": len(pairs)}
        if decide is not None:
            meta["decision threshold"] = threshold.describe(decide)
        page = report.render(pairs, "parasim: scored pairs", meta)
        if cfg.report:
            report.write_text(cfg.report, page)
            print(f"report → {cfg.report}", file=sys.stderr)
        if cfg.wandb.enabled:
            job.loggers.append(WandbLogger(project=cfg.wandb.project, save_dir=cfg.wandb.dir, mode=wandb_mode(),
                                           job_type="score"))
            report.log_to_wandb(job.loggers, page, pairs)  # the run is finished by parasim.task with the job
    return {}


def _name(row: dict[str, Any], index: int) -> str:
    return str(row.get("id", f"row {index + 1}"))


def _details(row: dict[str, Any], cfg: Any) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in (cfg.text_a, cfg.text_b, "id")}


main = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="score")(entry(score_job))


def cli() -> None:
    main()
