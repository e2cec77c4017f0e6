"""The held-out evaluation suite (`scripts/eval.py suite=default models=[base,DIR,…]`): several held-out sets, every
model on the same pairs, each model compared with the first by a paired bootstrap.

`Suite` is the `suite` config group's object: its sets (`parasim.evaluation.heldout`), the bootstrap settings, and
two steps the entry point (`parasim.evaluate`) runs around loading each model in turn: `score` embeds every
distinct text of all sets once per model (one progress bar) and scores paragraph sets with the loss's score (SE-F1,
or paragraph cosine for `loss=cosine_mse`) and sentence sets with the cosine of the two embeddings, through the
scorers of `parasim.evaluation.scorers`; `compare` computes each set's metrics per model and the 95 % interval of
each model's difference from the first (`parasim.evaluation.suite_stats`). Models are given as `base` (the model
config, not fine-tuned), a checkpoint (`.ckpt`, with the run's model=/loss=), an export directory, or
`label=path` for any of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from parasim.errors import ParasimError
from parasim.evaluation.bootstrap import Interval
from parasim.evaluation.embedding import embed
from parasim.evaluation.heldout import HeldOutSet, Splits, check_spec, load_set
from parasim.evaluation.metrics import correlation_metrics, pair_metrics
from parasim.evaluation.scorers import cosine_of_rows, sef1_of_groups, sentence_groups
from parasim.evaluation.suite_stats import difference_intervals
from parasim.models.encoder import SentenceEncoder

BASE = "base"
LABEL = re.compile(r"^[A-Za-z0-9_.+-]+$")
GENERIC_NAMES = {"export", "last", "best", "interrupted", "last_good", "model"}


@dataclass(frozen=True)
class ModelSpec:
    """One entry of `models=[…]`: its table label, and its checkpoint or export (neither for the base model)."""

    label: str
    path: Path | None = None

    @property
    def checkpoint(self) -> Path | None:
        return self.path if self.path is not None and self.path.suffix == ".ckpt" else None

    @property
    def export(self) -> Path | None:
        return self.path if self.path is not None and self.path.suffix != ".ckpt" else None


def default_label(path: Path) -> str:
    """A short label from a path: its stem, after the run directory's name when the stem says nothing
    (`runs/2026-…/export` → `2026-…-export`, `…/checkpoints/last.ckpt` → `2026-…-last`)."""
    stem = path.stem
    if stem in GENERIC_NAMES or stem.startswith("epoch"):
        run = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        stem = f"{run.name}-{stem}"
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", stem)


def parse_models(entries: Sequence[str]) -> list[ModelSpec]:
    """`base`, a path, or `label=path` (`label=base` renames the base model) → ModelSpecs with unique labels."""
    specs = []
    for entry in map(str, entries):
        # `label=path`, unless the whole entry is a path (a Hydra override dir may hold `=`)
        label, target = entry.split("=", 1) if "=" in entry and not Path(entry).exists() else ("", entry)
        if target == BASE:
            specs.append(ModelSpec(label or BASE))
            continue
        path = Path(target).expanduser()
        if not (path.is_dir() or (path.is_file() and path.suffix == ".ckpt")):
            raise ParasimError(f"models: {entry!r} is neither `base`, a checkpoint (.ckpt) nor an export directory")
        specs.append(ModelSpec(label or default_label(path), path))
    labels = [s.label for s in specs]
    bad = [label for label in labels if not LABEL.match(label)]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if not specs or bad or repeated:
        raise ParasimError(f"models={list(entries)}: give at least one model, labels of letters, digits, `_.+-` "
                           f"(bad: {bad}) and no label twice (repeated: {repeated}); name one with label=path")
    return specs


@dataclass
class SetResult:
    """One set's metrics per model label, and each later model's difference from the first."""

    set: HeldOutSet
    values: dict[str, dict[str, float]]
    differences: dict[str, dict[str, Interval]] = field(default_factory=dict)


def set_metrics(scores: np.ndarray, labels: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """The requested metrics of one model on one set (`parasim.evaluation.metrics`)."""
    values = pair_metrics(torch.as_tensor(scores), torch.as_tensor(labels)) | correlation_metrics(scores, labels)
    return {name: float(values.get(name, np.nan)) for name in names}


class Suite:
    """Held-out sets + paired bootstrap settings (`conf/suite/*.yaml`)."""

    def __init__(self, sets: Mapping[str, Mapping[str, Any]], data_source: Callable[[], Splits] | None = None,
                 n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> None:
        if not sets:
            raise ParasimError("suite.sets is empty: list at least one held-out set")
        for name, spec in sets.items():
            check_spec(name, spec)
        self.specs = dict(sets)
        self.data_source = data_source
        self.n_resamples = n_resamples
        self.confidence = confidence
        self.seed = seed

    def load_sets(self) -> list[HeldOutSet]:
        return [load_set(name, spec, self.seed, self.data_source) for name, spec in self.specs.items()]

    @staticmethod
    def score(encoder: SentenceEncoder, sets: Sequence[HeldOutSet], paragraph_score: str,
              label: str) -> dict[str, np.ndarray]:
        """Every set's per-pair scores for one model; each distinct text of the whole suite is embedded once."""
        table: dict[str, int] = {}
        plans = []
        for held in sets:
            texts = [r.text_a for r in held.records] + [r.text_b for r in held.records]
            if held.level == "paragraph" and paragraph_score == "sef1":
                plans.append((texts, sentence_groups(texts, table)))
            else:
                plans.append((texts, [table.setdefault(t, len(table)) for t in texts]))
        embeddings, _ = embed(encoder, list(table), progress=f"{label}: texts")
        out = {}
        for held, (texts, plan) in zip(sets, plans, strict=True):
            grouped = held.level == "paragraph" and paragraph_score == "sef1"
            out[held.name] = sef1_of_groups(embeddings, plan) if grouped else cosine_of_rows(embeddings, plan, texts)
        return out

    def compare(self, sets: Sequence[HeldOutSet], scores: Mapping[str, Mapping[str, np.ndarray]]) -> list[SetResult]:
        return compare(sets, scores, self.n_resamples, self.seed, self.confidence)


def compare(sets: Sequence[HeldOutSet], scores: Mapping[str, Mapping[str, np.ndarray]], n_resamples: int = 2000,
            seed: int = 0, confidence: float = 0.95) -> list[SetResult]:
    """Metrics of every model (`scores`: label → set name → per-pair scores) and the paired-bootstrap
    difference of each later model from the first, per set."""
    labels = list(scores)
    results = []
    for held in sets:
        y = held.labels
        result = SetResult(held, {m: set_metrics(scores[m][held.name], y, held.metrics) for m in labels})
        for label in labels[1:]:
            result.differences[label] = difference_intervals(
                y, scores[labels[0]][held.name], scores[label][held.name], held.metrics, n_resamples, seed,
                confidence)
        results.append(result)
    return results
