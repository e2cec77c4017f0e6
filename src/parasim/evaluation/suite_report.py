"""The evaluation suite's one table, model by model side by side: as markdown (`suite.md`), JSON (`suite.json`), flat
metrics (`<set>/<label>/<metric>`, `<set>/<label>-<first>/<metric>_diff|_low|_high`, for metrics.json and the
loggers), rows for a W&B table, and every pair's scores (`suite_scores.csv`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parasim.evaluation.bootstrap import Interval
from parasim.evaluation.report import HEADERS
from parasim.evaluation.suite import ModelSpec, SetResult

LEVEL_SCORES = {"sentence": "cosine of the two sentence embeddings"}


def _num(value: float, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _interval(interval: Interval) -> str:
    return f"{_num(interval.value, True)} [{_num(interval.low, True)}, {_num(interval.high, True)}]"


def table(results: Sequence[SetResult], models: Sequence[ModelSpec], confidence: float) -> tuple[list[str], list[list]]:
    """Header and rows: one row per set and metric, one column per model, one Δ column per later model."""
    first = models[0].label
    percent = f"{confidence * 100:g} %"
    header = ["set", "pairs", "metric", *[m.label for m in models],
              *[f"Δ {m.label} − {first} ({percent} CI)" for m in models[1:]]]
    rows = []
    for result in results:
        held = result.set
        for metric in held.metrics:
            pairs = f"{len(held.records):,}" + (f" ({held.cap})" if held.cap else "")
            rows.append([held.title, pairs, HEADERS.get(metric, metric),
                         *[_num(result.values[m.label][metric]) for m in models],
                         *[_interval(result.differences[m.label][metric]) for m in models[1:]]])
    return header, rows


def markdown(results: Sequence[SetResult], models: Sequence[ModelSpec], paragraph_score: str, n_resamples: int,
             confidence: float) -> str:
    header, rows = table(results, models, confidence)
    lines = ["# Held-out evaluation suite", "",
             "| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|",
             *["| " + " | ".join(str(c) for c in row) + " |" for row in rows], "",
             f"Paragraph sets are scored by {paragraph_score}, sentence sets by the {LEVEL_SCORES['sentence']}. "
             f"Δ: the later model minus `{models[0].label}` on the same pairs, with the paired-bootstrap "
             f"{confidence * 100:g} % interval ({n_resamples:,} resamples); for MSE lower is better.", "",
             "## Sets", ""]
    lines += [f"- **{r.set.title}** (`{r.set.name}`): {r.set.source}." for r in results]
    lines += ["", "## Models", ""]
    lines += [f"- `{m.label}`: {m.path if m.path is not None else 'the model config, not fine-tuned'}" for m in models]
    return "\n".join(lines) + "\n"


def flat_metrics(results: Sequence[SetResult], models: Sequence[ModelSpec]) -> dict[str, float]:
    first = models[0].label
    out: dict[str, float] = {}
    for result in results:
        name = result.set.name
        for label, values in result.values.items():
            out |= {f"{name}/{label}/{metric}": value for metric, value in values.items()}
        for label, intervals in result.differences.items():
            for metric, interval in intervals.items():
                key = f"{name}/{label}-{first}/{metric}"
                out |= {f"{key}_diff": interval.value, f"{key}_low": interval.low, f"{key}_high": interval.high}
    return {k: float(v) for k, v in out.items() if not math.isnan(v)}


def as_json(results: Sequence[SetResult], models: Sequence[ModelSpec], paragraph_score: str, n_resamples: int,
            confidence: float, seed: int) -> dict[str, Any]:
    return {
        "models": [{"label": m.label, "path": str(m.path) if m.path is not None else None} for m in models],
        "paragraph_score": paragraph_score,
        "bootstrap": {"n_resamples": n_resamples, "confidence": confidence, "seed": seed,
                      "compared_with": models[0].label},
        "sets": [{"name": r.set.name, "title": r.set.title, "level": r.set.level, "pairs": len(r.set.records),
                  "source": r.set.source, "values": r.values,
                  "differences": {label: {metric: {"value": i.value, "low": i.low, "high": i.high}
                                          for metric, i in intervals.items()}
                                  for label, intervals in r.differences.items()}}
                 for r in results],
    }


def write_scores(path: Path, results: Sequence[SetResult], scores: Mapping[str, Mapping[str, np.ndarray]]) -> Path:
    """Every pair of every set with its label and each model's score: the input of any later bootstrap."""
    frames = [pd.DataFrame({"set": r.set.name, "index": np.arange(len(r.set.records)), "label": r.set.labels,
                            **{label: scores[label][r.set.name] for label in scores}}) for r in results]
    pd.concat(frames).to_csv(path, index=False, float_format="%.8g")
    return path
