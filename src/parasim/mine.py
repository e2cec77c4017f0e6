"""Mining entry point: `python scripts/mine.py model_dir=EXPORT queries=A sources=B` (also `parasim-mine`).

Writes, in the run dir: `pairs.jsonl` (or .csv; ranked pairs with spans, SE-F1, probability, decision and
alignment), `report.html` (the top pairs), `mine_summary.json` (counts, skipped files, seconds per phase).
Embedding runs through Lightning's predict loop, so `trainer=gpu|ddp|ddp_cpu` spread it; on DDP ranks other than 0
the job ends after its share of the embeddings is in the cache.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import hydra
from omegaconf import OmegaConf

from parasim.configs import CONFIG_DIR
from parasim.errors import ParasimError
from parasim.evaluation import calibration, threshold
from parasim.evaluation.pairs_io import write_rows
from parasim.evidence import report
from parasim.loggers.wandb import configure_wandb
from parasim.mining.cache import model_fingerprint
from parasim.mining.documents import Segmenter, read_collection
from parasim.mining.pipeline import Mined, mine, report_pairs, rows
from parasim.models.encoder import load_pretrained
from parasim.runs import log_run_config
from parasim.task import Job, Metrics, entry
from parasim.trainer import build_trainer
from parasim.utils.files import write_json_atomic
from parasim.utils.instantiate import instantiate_group

log = logging.getLogger(__name__)


def mine_job(job: Job) -> Metrics:
    cfg = job.cfg
    started = time.perf_counter()
    if not (Path(cfg.model_dir) / "config.json").is_file():
        raise ParasimError(f"model_dir={cfg.model_dir}: no exported model there (config.json missing)")
    decide = threshold.resolve(cfg.model_dir, cfg.get("threshold"))  # a refused target stops here, before any work
    segmenter = Segmenter(**cfg.segment)
    options = {k: cfg.input[k] for k in ("id_column", "text_column", "on_bad_file")}
    queries = read_collection(cfg.queries, segmenter, **options)
    sources = read_collection(cfg.sources, segmenter, **options) if cfg.get("sources") else None
    read_s = time.perf_counter() - started
    encoder = load_pretrained(cfg.model_dir, batch_tokens=cfg.cache.batch_tokens).eval()
    configure_wandb(cfg)  # offline unless configured, named from the overrides, grouped per multirun
    job.loggers += instantiate_group(cfg.get("logger"))
    log_run_config(cfg, job.loggers)
    calibrator = calibration.load_optional(cfg.model_dir)
    mined = mine(encoder, queries, sources, model_fingerprint(cfg.model_dir),
                 lambda callbacks: build_trainer(cfg.trainer, callbacks, []), cfg, calibrator,
                 None if decide is None else decide["score"], bool(cfg.progress))
    if mined is None:
        return {}
    mined.timings["read"] = read_s
    return write_outputs(job, mined, decide)


def write_outputs(job: Job, mined: Mined, decide: dict | None) -> Metrics:
    cfg = job.cfg
    start = time.perf_counter()
    out = rows(mined, cfg.output.min_sef1, cfg.output.texts, cfg.output.alignment)
    if str(cfg.output.pairs).endswith(".csv"):
        out = [{k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v for k, v in r.items()}
               for r in out]
    write_rows(str(cfg.output.pairs), out)
    pairs = report_pairs(mined, int(cfg.report.top))
    meta = {"model": cfg.model_dir, "queries": cfg.queries, "sources": cfg.get("sources") or "(the queries)",
            "candidates": len(mined), "shown": len(pairs)}
    if decide is not None:
        meta["decision threshold"] = threshold.describe(decide)
    page = report.render(pairs, "parasim: mined pairs", meta)
    if cfg.report.file:
        report.write_text(cfg.report.file, page)
    report.log_to_wandb(job.loggers, page, pairs)
    mined.timings["write"] = time.perf_counter() - start
    decided = int(mined.decision.sum()) if mined.decision is not None else None
    summary = {"counts": mined.counts, "written_pairs": len(out), "decided_paraphrases": decided,
               "threshold": decide, "seconds": {k: round(v, 3) for k, v in mined.timings.items()},
               "skipped_files": mined.queries.skipped + (mined.sources.skipped if mined.sources is not mined.queries
                                                         else []),
               "empty_documents": mined.queries.empty_documents + (mined.sources.empty_documents
                                                                    if mined.sources is not mined.queries else []),
               "cut_sentences": mined.queries.cut_sentences, "config": OmegaConf.to_container(cfg, resolve=True)}
    write_json_atomic(job.output_dir / "mine_summary.json", summary)
    metrics = {f"mine/{k}": float(v) for k, v in mined.counts.items()}
    metrics |= {f"time/{k.replace(' ', '_')}_s": float(v) for k, v in mined.timings.items()}
    for logger in job.loggers:
        logger.log_metrics(metrics)
    where = {"pairs": cfg.output.pairs, "report": cfg.report.file, "summary": job.output_dir / "mine_summary.json"}
    print(f"{len(out)} pairs" + (f", {decided} at or above the decision threshold" if decided is not None else ""),
          *(f"{name:>8}: {path}" for name, path in where.items() if path), sep="\n", file=sys.stderr)
    return metrics


main = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="mine")(entry(mine_job))


def cli() -> None:
    main()
