"""The model card (README.md of an export): a `ModelCardData` filled from the run, rendered through
`model_card.md` (a `string.Template`), shaped like the seed's sentence-transformers card.

Every number in it comes from the run: metrics, calibration, dataset statistics, hyper-parameters, and the
usage examples' similarities and SE-F1 scores, which are computed from the exported encoder at export time
(never copied numbers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import torch
from torch import nn

from parasim.evaluation.calibration import Calibrator
from parasim.evaluation.scorers import sef1
from parasim.losses.base import PairLoss
from parasim.models.encoder import SentenceEncoder

TEMPLATE = Path(__file__).with_name("model_card.md")
USAGE_SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
USAGE_PAIRS = [
    ("The weather is lovely today. We should go for a walk.", "It is a beautiful day! Let's take a stroll outside."),
    ("The weather is lovely today. We should go for a walk.", "He drove to the stadium. The match began at noon."),
]
SPLIT_ORDER = ("base", "val", "test")


def _table(rows: list[list[Any]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(":---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def inner_loss_config(inner: nn.Module) -> dict[str, Any]:
    """Class path and public settings (e.g. `reduction`) of the loss the score is compared with the label by."""
    settings = {k: v for k, v in vars(inner).items() if not k.startswith("_") and k != "training"}
    name = type(inner).__qualname__
    path = f"torch.nn.{name}" if getattr(nn, name, None) is type(inner) else f"{type(inner).__module__}.{name}"
    return {"class": path, **settings}


def architecture(encoder: SentenceEncoder) -> str:
    """The modules as `print(SentenceTransformer(path))` shows them: what the export's modules.json holds."""
    lines = [f"  (0): Transformer({{'max_seq_length': {encoder.max_seq_length}, 'do_lower_case': "
             f"{encoder.do_lower_case}, 'architecture': '{type(encoder.transformer).__name__}'}})",
             f"  (1): Pooling({{'word_embedding_dimension': {encoder.dim}, {encoder.pooling.describe()}, "
             "'include_prompt': True})"]
    return "\n".join(lines + (["  (2): Normalize()"] if encoder.pooling.normalize else []))


def usage_snippet(encoder: SentenceEncoder) -> str:
    embeddings = encoder.encode(USAGE_SENTENCES, unit=True)  # `model.similarity` is the cosine
    sims = (embeddings @ embeddings.T).cpu()
    rows = ", ".join("[" + ", ".join(f"{v:.4f}" for v in row.tolist()) + "]" for row in sims)
    return f"""```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("path/to/this/directory")
sentences = {USAGE_SENTENCES!r}
embeddings = model.encode(sentences)
print(embeddings.shape)
# [{len(USAGE_SENTENCES)}, {encoder.dim}]
similarities = model.similarity(embeddings, embeddings)
print(similarities)
# tensor([{rows}])
```"""


def scoring_snippet(encoder: SentenceEncoder, calibrator: Calibrator | None) -> str:
    """SE-F1 of two paragraph pairs with the parasim scorer, computed now from this encoder."""
    raw = sef1(encoder, [a for a, _ in USAGE_PAIRS], [b for _, b in USAGE_PAIRS])
    rows = []
    for (a, b), score in zip(USAGE_PAIRS, raw, strict=True):
        row = [a, b, f"{score:.4f}"]
        if calibrator is not None:
            row.append(f"{float(calibrator(np.asarray([score]))[0]):.4f}")
        rows.append(row)
    header = ["paragraphs1", "paragraphs2", "sef1"] + (["calibrated"] if calibrator is not None else [])
    return "\n".join(["Paragraph pairs are scored by SE-F1 over sentence embeddings with parasim "
                      "(`calibrated` appears when the export ships `calibration.json`):", "", "```bash",
                      "parasim-score model_dir=path/to/this/directory input=pairs.jsonl output=scores.jsonl",
                      "# pairs.jsonl: {\"paragraphs1\": \"...\", \"paragraphs2\": \"...\"} per line", "```", "",
                      _table(rows, header)])


@dataclass
class ModelCardData:
    """Everything the card shows. `from_encoder` computes the usage numbers; `render` fills the template."""

    base_model: str
    loss_name: str
    loss_description: str
    score_name: str
    loss_config: dict[str, Any]
    modules: str  # the architecture block: `architecture(encoder)`
    max_seq_length: int
    dim: int
    usage: str
    scoring: str
    hyperparameters: dict[str, Any]
    defaults: dict[str, Any] = field(default_factory=dict)  # the seed's values: the card lists what differs
    metrics: dict[str, float] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)  # the map's fit: kind, n, Brier/ECE before/after
    dataset: dict[str, Any] | None = None
    train_log: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    config_yaml: str | None = None

    @classmethod
    def from_encoder(cls, encoder: SentenceEncoder, loss: PairLoss, base_model: str, hyperparameters: dict[str, Any],
                     calibrator: Calibrator | None = None, **run: Any) -> ModelCardData:
        with torch.inference_mode():
            usage, scoring = usage_snippet(encoder), scoring_snippet(encoder, calibrator)
        return cls(base_model=base_model, loss_name=loss.card_name, loss_description=loss.card_description,
                   score_name=loss.score_name,
                   loss_config={**loss.get_config_dict(), "inner_loss": inner_loss_config(loss.inner)},
                   modules=architecture(encoder), max_seq_length=encoder.max_seq_length, dim=encoder.dim,
                   usage=usage, scoring=scoring, hyperparameters=hyperparameters, **run)

    def render(self) -> str:
        inner = self.loss_config.get("inner_loss", {}).get("class", "?")
        non_default = {k: v for k, v in self.hyperparameters.items() if self.defaults.get(k, object()) != v}
        return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
            base_model=self.base_model, loss_name=self.loss_name, inner_loss=inner,
            loss_description=f"{self.loss_description}, compared with the label by the inner loss `{inner}`:",
            loss_config=json.dumps(self.loss_config, indent=2, default=str), modules=self.modules,
            max_seq_length=self.max_seq_length, dim=self.dim, usage=self.usage, scoring=self.scoring,
            evaluation=_section("Evaluation", evaluation_table(self.metrics)),
            calibration=_section("Calibration", calibration_text(self.calibration, self.score_name)),
            dataset=_section("Training Dataset", dataset_text(self.dataset)),
            non_default="\n".join(f"- `{k}`: {v}" for k, v in non_default.items()),
            all_hyperparameters="\n".join(f"- `{k}`: {v}" for k, v in self.hyperparameters.items()),
            config_yaml=(f"Resolved run configuration:\n\n```yaml\n{self.config_yaml.rstrip()}\n```\n\n"
                         if self.config_yaml else ""),
            training_logs=_section("Training Logs", training_log_table(self.train_log), level=3),
            versions="\n".join(f"- {k}: {v}" for k, v in self.versions.items()),
        ).rstrip("\n") + "\n"


def _section(title: str, body: str, level: int = 2) -> str:
    return f"{'#' * level} {title}\n\n{body}\n\n" if body else ""


def evaluation_table(metrics: Mapping[str, float]) -> str:
    """One row per metric, one column per split (base = the untrained model on test)."""
    by_name: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        split, _, name = key.partition("/")
        by_name.setdefault(name, {})[split] = value
    splits = [s for s in SPLIT_ORDER if any(s in v for v in by_name.values())]
    splits += sorted({s for v in by_name.values() for s in v} - set(splits))
    rows = [[name, *[_fmt(int(values[s]) if name == "n" and s in values else values.get(s)) for s in splits]]
            for name, values in sorted(by_name.items())]
    return _table(rows, ["Metric", *splits]) if rows else ""


def calibration_text(info: Mapping[str, Any], score_name: str) -> str:
    if not info:
        return ""
    rows = [[_fmt(info.get(k)), _fmt(info.get(f"{k}_calibrated"))] for k in ("brier", "ece")]
    return (f"`calibration.json` maps the {score_name} to P(paraphrase): `{info.get('kind')}` map fitted on the "
            f"validation split ({info.get('n', '?')} pairs). Brier score and expected calibration error on that split:"
            "\n\n" + _table([["Brier", *rows[0]], ["ECE", *rows[1]]], ["", f"raw {score_name}", "calibrated"]))


def dataset_text(dataset: Mapping[str, Any] | None) -> str:
    if not dataset:
        return ""
    parts = [f"- **{k}:** {_fmt(v)}" for k, v in dataset.items() if not isinstance(v, (list, dict))]
    for key, value in dataset.items():
        if isinstance(value, dict):
            parts += ["", f"### {key}", "", _table([[k, _fmt(v)] for k, v in value.items()], ["", "value"])]
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            header = list(value[0])
            parts += ["", f"### {key}", "", _table([[_fmt(r.get(h, "")) for h in header] for r in value], header)]
    return "\n".join(parts)


def training_log_table(rows: list[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    header = list(rows[0])
    return _table([[_fmt(r.get(h, "")) for h in header] for r in rows], header)
