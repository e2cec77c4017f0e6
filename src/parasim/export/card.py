"""The model card (README.md of an export), shaped like the seed's sentence-transformers card.

Every number in it comes from the run: metrics, calibration, dataset statistics, hyper-parameters,
and the usage examples' similarities and SE-F1 scores, which are computed from the exported encoder at
export time (never copied numbers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from parasim.evaluation.calibration import Calibrator
from parasim.evaluation.scorers import sef1
from parasim.models.encoder import SentenceEncoder

USAGE_SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
USAGE_PAIRS = [
    ("The weather is lovely today. We should go for a walk.", "It is a beautiful day! Let's take a stroll outside."),
    ("The weather is lovely today. We should go for a walk.", "He drove to the stadium. The match began at noon."),
]
SPLIT_ORDER = ("base", "val", "test")
CONFIG_KEYS = ("seed", "model", "loss", "optimizer", "scheduler", "precision", "data", "trainer", "calibration")


def _table(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(":---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def run_config_yaml(cfg: DictConfig) -> str:
    """The resolved groups that shape the model (no paths, loggers or callbacks: they say nothing about it)."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    return OmegaConf.to_yaml({k: resolved[k] for k in CONFIG_KEYS if k in resolved})


def inner_loss_config(inner: nn.Module) -> dict[str, Any]:
    """Class path and public settings (e.g. `reduction`) of the loss SE-F1 is compared with the label by."""
    settings = {k: v for k, v in vars(inner).items() if not k.startswith("_") and k != "training"}
    name = type(inner).__qualname__
    path = f"torch.nn.{name}" if getattr(nn, name, None) is type(inner) else f"{type(inner).__module__}.{name}"
    return {"class": path, **settings}


def usage_section(encoder: SentenceEncoder) -> str:
    embeddings = encoder.encode(USAGE_SENTENCES)
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


def scoring_section(encoder: SentenceEncoder, calibrator: Calibrator | None) -> str:
    """SE-F1 of two paragraph pairs with the parasim scorer, computed now from this encoder."""
    raw = sef1(encoder, [a for a, _ in USAGE_PAIRS], [b for _, b in USAGE_PAIRS])
    lines = ["Paragraph pairs are scored by SE-F1 over sentence embeddings with parasim "
             "(`calibrated` appears when the export ships `calibration.json`):", "", "```bash",
             "parasim-score model_dir=path/to/this/directory input=pairs.jsonl output=scores.jsonl",
             "# pairs.jsonl: {\"paragraphs1\": \"...\", \"paragraphs2\": \"...\"} per line", "```", "", ""]
    rows = []
    for (a, b), score in zip(USAGE_PAIRS, raw, strict=True):
        row = [a, b, f"{score:.4f}"]
        if calibrator is not None:
            row.append(f"{float(calibrator(np.asarray([score]))[0]):.4f}")
        rows.append(row)
    header = ["paragraphs1", "paragraphs2", "sef1"] + (["calibrated"] if calibrator is not None else [])
    return "\n".join(lines) + _table(rows, header)


def evaluation_section(metrics: Mapping[str, float]) -> list[str]:
    """One row per metric, one column per split (base = the untrained model on test)."""
    by_name: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        split, _, name = key.partition("/")
        by_name.setdefault(name, {})[split] = value
    splits = [s for s in SPLIT_ORDER if any(s in v for v in by_name.values())]
    splits += sorted({s for v in by_name.values() for s in v} - set(splits))
    rows = [[name, *[_fmt(int(values[s]) if name == "n" and s in values else values.get(s)) for s in splits]]
            for name, values in sorted(by_name.items())]
    return ["## Evaluation", "", _table(rows, ["Metric", *splits]), ""]


def calibration_section(info: Mapping[str, Any]) -> list[str]:
    rows = [[_fmt(info.get(k)), _fmt(info.get(f"{k}_calibrated"))] for k in ("brier", "ece")]
    return ["## Calibration", "",
            f"`calibration.json` maps SE-F1 to P(paraphrase): `{info.get('kind')}` map fitted on the validation split "
            f"({info.get('n', '?')} pairs). Brier score and expected calibration error on that split:", "",
            _table([["Brier", *rows[0]], ["ECE", *rows[1]]], ["", "raw SE-F1", "calibrated"]), ""]


def dataset_section(dataset: Mapping[str, Any]) -> list[str]:
    parts = ["## Training Dataset", ""]
    parts += [f"- **{k}:** {_fmt(v)}" for k, v in dataset.items() if not isinstance(v, (list, dict))]
    for key, value in dataset.items():
        if isinstance(value, dict):
            parts += ["", f"### {key}", "", _table([[k, _fmt(v)] for k, v in value.items()], ["", "value"])]
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            header = list(value[0])
            parts += ["", f"### {key}", "", _table([[_fmt(r.get(h, "")) for h in header] for r in value], header)]
    return [*parts, ""]


def build_model_card(encoder: SentenceEncoder, *, loss_name: str, loss_config: Mapping[str, Any],
                     hyperparameters: Mapping[str, Any], defaults: Mapping[str, Any] | None = None,
                     metrics: Mapping[str, float] | None = None, dataset: Mapping[str, Any] | None = None,
                     train_log: list[Mapping[str, Any]] | None = None,
                     versions: Mapping[str, str] | None = None, base_model: str = "all-mpnet-base-v2",
                     calibrator: Calibrator | None = None, calibration: Mapping[str, Any] | None = None,
                     config_yaml: str | None = None) -> str:
    """The README.md text; `calibration` holds the fit's Brier/ECE, `config_yaml` the resolved run config."""
    defaults = defaults or {}
    non_default = {k: v for k, v in hyperparameters.items() if defaults.get(k, object()) != v}
    inner = loss_config.get("inner_loss", {})
    inner_name = inner.get("class", loss_config.get("inner", "?")) if isinstance(inner, Mapping) else inner
    with torch.inference_mode():
        usage = usage_section(encoder)
        scoring = scoring_section(encoder, calibrator)
    parts = [
        "---",
        "library_name: sentence-transformers",
        "pipeline_tag: sentence-similarity",
        "tags:",
        "- sentence-transformers",
        "- sentence-similarity",
        "- feature-extraction",
        "- parasim",
        f"- loss:{loss_name}",
        f"base_model: {base_model}",
        "---",
        "",
        f"# SentenceTransformer fine-tuned from {base_model} with {loss_name}",
        "",
        "Trained with [parasim](https://example.invalid/parasim): paragraph-level paraphrase detection by SE-F1 "
        "over sentence embeddings.",
        "",
        "## Model Details",
        "",
        f"- **Base model:** {base_model}",
        f"- **Maximum Sequence Length:** {encoder.max_seq_length} tokens",
        f"- **Output Dimensionality:** {encoder.dim} dimensions",
        "- **Similarity Function:** Cosine Similarity",
        f"- **Training loss:** {loss_name} (inner loss `{inner_name}`)",
        "",
        "### Full Model Architecture",
        "",
        "```",
        "SentenceTransformer(",
        f"  (0): Transformer({{'max_seq_length': {encoder.max_seq_length}, 'do_lower_case': False, "
        f"'architecture': '{type(encoder.transformer).__name__}'}})",
        f"  (1): Pooling({{'word_embedding_dimension': {encoder.dim}, 'pooling_mode_mean_tokens': True, "
        "'include_prompt': True})",
        "  (2): Normalize()",
        ")",
        "```",
        "",
        "## Usage",
        "",
        usage,
        "",
        "### Scoring paragraph pairs",
        "",
        scoring,
        "",
    ]
    if metrics:
        parts += evaluation_section(metrics)
    if calibration:
        parts += calibration_section(calibration)
    if dataset:
        parts += dataset_section(dataset)
    parts += [
        "## Training Details",
        "",
        f"### Loss: `{loss_name}`",
        "",
        f"SE-F1 between paragraphs (sentence × sentence cosine matrix → precision, recall, F1), compared with the "
        f"label by the inner loss `{inner_name}`:",
        "",
        "```json",
        _json(loss_config),
        "```",
        "",
        "### Non-Default Hyperparameters",
        "",
        *[f"- `{k}`: {v}" for k, v in non_default.items()],
        "",
        "### All Hyperparameters",
        "",
        "<details><summary>Click to expand</summary>",
        "",
        *[f"- `{k}`: {v}" for k, v in hyperparameters.items()],
        "",
    ]
    if config_yaml:
        parts += ["Resolved run configuration:", "", "```yaml", config_yaml.rstrip(), "```", ""]
    parts += ["</details>", ""]
    if train_log:
        header = list(train_log[0])
        rows = [[_fmt(r.get(h, "")) for h in header] for r in train_log]
        parts += ["### Training Logs", "", _table(rows, header), ""]
    parts += ["### Framework Versions", "", *[f"- {k}: {v}" for k, v in (versions or {}).items()], ""]
    return "\n".join(parts)


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), indent=2, default=str)
