"""Evaluation entry point: a checkpoint, an export or the base model on a data config.

Scores val and test through the training path (datamodule → `loss.score`), picks the F1 threshold on
val, fits the calibration map on val, compares SE-F1 with cosine, BERTScore and BLEU on the same pairs,
and leaves metrics.json, metrics.md, calibration.json and PNG plots in the run dir.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import pandas as pd
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from rich.console import Console
from rich.markdown import Markdown

from parasim.configs import CONFIG_DIR
from parasim.data.records import PairRecord
from parasim.errors import ParasimError
from parasim.evaluation import calibration, plots, suite_report, threshold
from parasim.evaluation.embedding import resolve_device
from parasim.evaluation.predict import ScoredSplit, collect_scores
from parasim.evaluation.report import calibration_report, markdown, model_metrics, scorer_metrics
from parasim.evaluation.scorers import TITLES, score_texts
from parasim.evaluation.suite import parse_models
from parasim.loggers import log_images, log_table
from parasim.losses.base import PairLoss
from parasim.models.encoder import load_pretrained
from parasim.runs import log_run_config, write_metrics
from parasim.task import Job, Metrics, entry, run_job
from parasim.utils.console import print_config_tree
from parasim.utils.files import write_json_atomic, write_text_atomic
from parasim.utils.instantiate import instantiate_group

log = logging.getLogger(__name__)


def load_checkpoint(loss: PairLoss, path: str | Path) -> None:
    """Load a Lightning checkpoint of `ParaphraseModule` into `loss` (the module holds it as `loss_fn`)."""
    path = Path(path)
    if not path.is_file():
        raise ParasimError(f"No checkpoint at {path}.")
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    weights = {k.removeprefix("loss_fn."): v for k, v in state.items() if k.startswith("loss_fn.")}
    try:
        loss.load_state_dict(weights)
    except RuntimeError as exc:
        raise ParasimError(f"{path} does not fit the configured model; pass the model= and loss= the run trained "
                           f"with ({str(exc).splitlines()[0]})") from exc


def load_model(cfg: DictConfig, model_dir: str | Path | None, ckpt_path: str | Path | None) -> PairLoss:
    """The loss (holding the encoder) in eval mode, from `model_dir` or the model config, plus `ckpt_path` weights."""
    if model_dir:  # the export's own pooling and token cap; the model config's speed settings
        options = ("packed", "min_fill", "batch_tokens")
        encoder = load_pretrained(model_dir, **{k: cfg.model[k] for k in options if k in cfg.model})
    else:
        encoder = instantiate(cfg.model)
    loss = instantiate(cfg.loss, encoder=encoder)
    if ckpt_path:
        load_checkpoint(loss, ckpt_path)
    return loss.eval()


def model_title(cfg: DictConfig) -> str:
    if cfg.get("model_dir") or cfg.get("ckpt_path"):
        return str(cfg.get("model_dir") or cfg.get("ckpt_path"))
    name = Path(cfg.model.path).name if cfg.model.get("path") else cfg.model._target_.rsplit(".", 1)[-1]
    return f"{name} (not fine-tuned)"


def training_run_dir(cfg: DictConfig) -> Path | None:
    """The training run a checkpoint (run/checkpoints/x.ckpt) or an export (run/export) came from."""
    if cfg.get("ckpt_path"):
        return Path(cfg.ckpt_path).resolve().parent.parent
    if cfg.get("model_dir"):
        return Path(cfg.model_dir).resolve().parent
    return None


def text_scores(loss: PairLoss, records: list[PairRecord], names: list[str]) -> dict[str, Any]:
    if not names:
        return {}
    return score_texts(loss.encoder, [r.text_a for r in records], [r.text_b for r in records], names)


def write_scores(path: Path, splits: dict[str, ScoredSplit], subset_names: list[str],
                 calibrator: calibration.Calibrator, scorer_scores: dict[str, dict[str, Any]]) -> Path:
    """Every pair's scores (split order kept): the model's score, its calibrated value, each scorer's."""
    frames = []
    for name, split in splits.items():
        frame = pd.DataFrame({"split": name, "index": np.arange(len(split)),
                              "subset": [subset_names[int(i)] for i in split.subsets], "label": split.labels,
                              "score": split.scores, "calibrated": calibrator(split.scores)})
        frames.append(frame.assign(**scorer_scores[name]))
    pd.concat(frames).to_csv(path, index=False, float_format="%.8g")
    return path


def make_plots(output_dir: Path, splits: dict[str, ScoredSplit], subset_names: list[str],
               calibrator: calibration.Calibrator, scorer_scores: dict[str, Any], score_name: str,
               run_dir: Path | None) -> list[Path]:
    test = splits["test"]
    images = []
    groups = [(name, test.subsets == sid) for sid, name in enumerate(subset_names) if (test.subsets == sid).any()]
    if len(groups) > 1:
        groups.append(("all", test.subsets >= 0))
    for name, mask in groups:
        images.append(plots.plot_histogram(test.scores[mask], test.labels[mask],
                                           output_dir / f"hist_test_{plots.safe_name(name)}.png",
                                           f"{score_name}, test, {name}", score_name))
    for name, scores in scorer_scores.items():
        images.append(plots.plot_histogram(scores, test.labels, output_dir / f"hist_test_scorer_{name}.png",
                                           f"{TITLES[name]}, test", TITLES[name]))
    if calibrator.kind != "none":
        for split_name, split in splits.items():
            if len(split):
                curves = {"raw": split.scores, calibrator.kind: calibrator(split.scores)}
                images.append(plots.plot_reliability(split.labels, curves, output_dir / f"reliability_{split_name}.png",
                                                     f"reliability, {split_name} (map fitted on val)"))
    if run_dir is not None:
        curve = plots.plot_training_loss(run_dir, output_dir / "loss_curve.png")
        images += [curve] if curve else []
    return images


def evaluate_job(job: Job) -> Metrics:
    """One evaluation in `job.output_dir`; returns the metrics also written to metrics.json."""
    cfg, output_dir = job.cfg, job.output_dir
    print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    torch.manual_seed(cfg.seed)
    if cfg.get("suite"):
        return suite_job(job)
    loss = load_model(cfg, cfg.get("model_dir"), cfg.get("ckpt_path")).to(resolve_device(cfg.device))
    datamodule = instantiate(cfg.data, tokenizer=loss.encoder.tokenizer, planner=loss.encoder.planner,
                             unit=cfg.data.get("unit") or loss.unit, max_seq_length=loss.encoder.max_seq_length)
    datamodule.setup()
    threshold.check_target(cfg.get("threshold"), [r.label for r in datamodule.records["val"]])
    job.loggers += instantiate_group(cfg.get("logger"))
    log_run_config(cfg, job.loggers)
    score_name = TITLES["sef1" if loss.unit == "sentences" else "cosine"]
    splits = {s: collect_scores(loss, getattr(datamodule, f"{s}_dataloader")()) for s in ("val", "test")}
    subset_names = list(datamodule.subset_names)
    metrics = model_metrics(splits["val"], splits["test"], subset_names)
    calibrator = instantiate(cfg.calibration) if cfg.get("calibration") else calibration.Calibrator()
    fit = calibration.fit_report(calibrator, splits["val"].scores, splits["val"].labels)
    metrics |= calibration_report(calibrator, splits)
    decision = None
    targets = threshold.numbers(cfg.get("threshold"))
    if any(v is not None for v in targets.values()):  # a decision threshold for a target FPR / precision
        decision = threshold.for_export(splits["val"].scores, splits["val"].labels,
                                        (splits["test"].scores, splits["test"].labels), **targets)
        metrics |= threshold.test_metrics(decision["threshold"])
    if calibrator.kind != "none" or decision is not None:
        stored = calibration.to_json(calibrator, fit) if calibrator.kind != "none" else None
        write_text_atomic(output_dir / calibration.FILENAME,
                          threshold.add_to_json(stored, decision) if decision else stored)
    names = list(cfg.get("scorers") or [])
    scorer_scores = {s: text_scores(loss, datamodule.records[s], names) for s in splits}
    if names:
        metrics |= scorer_metrics(scorer_scores["val"], splits["val"].labels, scorer_scores["test"],
                                  splits["test"].labels)
    metrics = {k: v for k, v in metrics.items() if not math.isnan(v)}
    write_scores(output_dir / "scores.csv", splits, subset_names, calibrator, scorer_scores)
    images = make_plots(output_dir, splits, subset_names, calibrator, scorer_scores["test"], score_name,
                        training_run_dir(cfg)) if cfg.get("plots", True) else []
    write_metrics(output_dir, metrics)
    report = markdown(metrics, subset_names, score_name, calibrator.kind, model_title(cfg))
    write_text_atomic(output_dir / "metrics.md", report)
    for logger in job.loggers:
        logger.log_metrics(metrics)
    log_images(job.loggers, images)
    Console().print(Markdown(report))
    log.info("evaluation written to %s", output_dir)
    return metrics


def suite_job(job: Job) -> Metrics:
    """The held-out suite (`suite=…`): every model of `models` on every set, one table (suite.md, suite.json, a W&B
    table), each model compared with the first. Models are loaded one at a time, so memory holds one."""
    cfg, output_dir = job.cfg, job.output_dir
    if cfg.get("model_dir") or cfg.get("ckpt_path"):
        raise ParasimError("With a suite, list the models in models=[…] (not model_dir= / ckpt_path=).")
    suite = instantiate(cfg.suite)
    models = parse_models(cfg.models)
    sets = suite.load_sets()
    job.loggers += instantiate_group(cfg.get("logger"))
    log_run_config(cfg, job.loggers)
    scores, scorer = {}, "sef1"
    for model in models:
        log.info("suite: scoring %s", model.label)
        loss = load_model(cfg, model.export, model.checkpoint).to(resolve_device(cfg.device))
        scorer = "sef1" if loss.unit == "sentences" else "cosine"  # the same `loss` config for every model
        scores[model.label] = suite.score(loss.encoder, sets, scorer, model.label)
        del loss
    results, paragraph_score = suite.compare(sets, scores), TITLES[scorer]
    report = suite_report.markdown(results, models, paragraph_score, suite.n_resamples, suite.confidence)
    write_text_atomic(output_dir / "suite.md", report)
    write_json_atomic(output_dir / "suite.json", suite_report.as_json(
        results, models, paragraph_score, suite.n_resamples, suite.confidence, suite.seed))
    suite_report.write_scores(output_dir / "suite_scores.csv", results, scores)
    metrics = suite_report.flat_metrics(results, models)
    write_metrics(output_dir, metrics)
    for logger in job.loggers:
        logger.log_metrics(metrics)
    log_table(job.loggers, "suite", *suite_report.table(results, models, suite.confidence))
    Console().print(Markdown(report))
    log.info("suite written to %s", output_dir)
    return metrics


def evaluate(cfg: DictConfig) -> Metrics:
    """Run one evaluation (status, loggers and errors handled); returns its metrics."""
    return run_job(evaluate_job, cfg)


main = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="eval")(entry(evaluate_job))


def cli() -> None:
    main()
