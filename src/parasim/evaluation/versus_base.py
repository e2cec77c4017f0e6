"""Did training help? The trained model against the model it started from, on the same pairs, with paired
bootstrap intervals: the run's own test split (scored by the training path before and after fitting) and the
held-out checks of a `suite` config (by default STS-b, to see that fine-tuning did not damage general similarity).

A training job scores the base model on the checks before it fits (the weights change in place), the tuned model
after its test, and writes `versus_base.md` / `.json` beside its metrics: one table, one row per set and metric,
`Δ tuned − base` with its 95 % interval. Metrics go to metrics.json as `<set>/tuned-base/<metric>_diff|_low|_high`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from parasim.data.records import PairRecord
from parasim.evaluation import suite_report
from parasim.evaluation.heldout import HeldOutSet
from parasim.evaluation.suite import ModelSpec, SetResult, Suite, compare
from parasim.models.encoder import SentenceEncoder
from parasim.utils.files import write_json_atomic, write_text_atomic

MODELS = (ModelSpec("base"), ModelSpec("tuned"))
SPLIT_METRICS = ("roc_auc", "avg_precision", "mse")


@dataclass
class VersusBase:
    """The held-out checks of one training run; `before` and `after` score the encoder as it is at that moment."""

    suite: Suite | None
    paragraph_score: str = "sef1"
    sets: list[HeldOutSet] = field(default_factory=list)
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def before(self, encoder: SentenceEncoder) -> None:
        if self.suite is not None:
            self.sets = self.suite.load_sets()
            self.scores["base"] = self._score(encoder, "base")

    def after(self, encoder: SentenceEncoder) -> None:
        if self.suite is not None:
            self.scores["tuned"] = self._score(encoder, "tuned")

    def _score(self, encoder: SentenceEncoder, label: str) -> dict[str, np.ndarray]:
        mode = encoder.training
        try:
            with torch.inference_mode():
                return Suite.score(encoder.eval(), self.sets, self.paragraph_score, label)
        finally:
            encoder.train(mode)

    @property
    def bootstrap(self) -> tuple[int, int, float]:
        """(resamples, seed, confidence): the suite's, else the defaults."""
        suite = self.suite
        return (suite.n_resamples, suite.seed, suite.confidence) if suite is not None else (2000, 0, 0.95)

    def compare(self, test: HeldOutSet | None, base: np.ndarray | None, tuned: np.ndarray | None) -> list[SetResult]:
        """The run's test split (when both its scores exist) and every check, each tuned − base."""
        sets, scores = list(self.sets), {label: dict(self.scores.get(label, {})) for label in ("base", "tuned")}
        if test is not None and base is not None and tuned is not None and len(base) == len(tuned) == len(test.records):
            sets.insert(0, test)
            scores["base"][test.name], scores["tuned"][test.name] = base, tuned
        if not sets or not scores["tuned"]:
            return []
        return compare(sets, scores, *self.bootstrap)


def test_split_set(records: list[PairRecord], score_name: str) -> HeldOutSet:
    """The run's own test split as a set of the comparison (scored by the training path)."""
    return HeldOutSet(name="test", title=f"this run's test split ({score_name})", level="paragraph",
                      records=records, metrics=SPLIT_METRICS, source="the data config's test split, as the run tested")


def write(output_dir: Path, results: list[SetResult], paragraph_score: str, n_resamples: int, seed: int,
          confidence: float) -> str:
    """`versus_base.md` and `.json` in the run dir; returns the markdown."""
    report = suite_report.markdown(results, MODELS, paragraph_score, n_resamples, confidence)
    report = report.replace("# Held-out evaluation suite", "# Tuned vs base (the model before training)", 1)
    write_text_atomic(output_dir / "versus_base.md", report)
    write_json_atomic(output_dir / "versus_base.json",
                      suite_report.as_json(results, MODELS, paragraph_score, n_resamples, confidence, seed))
    return report


def flat_metrics(results: list[SetResult]) -> Mapping[str, float]:
    """The comparison's figures for metrics.json; the test split's own values are there already (base/*, test/*)."""
    return {k: v for k, v in suite_report.flat_metrics(results, MODELS).items()
            if not k.startswith(("test/base/", "test/tuned/"))}
