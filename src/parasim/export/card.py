"""The model card (README.md of an export), shaped like the seed's sentence-transformers card.

Every number in it comes from the run: metrics, dataset statistics, hyper-parameters, and the usage
example's similarities, which are computed from the exported encoder at export time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import torch

from parasim.models.encoder import SentenceEncoder

USAGE_SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]


def _table(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(":---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


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


def build_model_card(encoder: SentenceEncoder, *, loss_name: str, loss_config: Mapping[str, Any],
                     hyperparameters: Mapping[str, Any], defaults: Mapping[str, Any] | None = None,
                     metrics: Mapping[str, float] | None = None, dataset: Mapping[str, Any] | None = None,
                     train_log: list[Mapping[str, Any]] | None = None,
                     versions: Mapping[str, str] | None = None, base_model: str = "all-mpnet-base-v2") -> str:
    defaults = defaults or {}
    non_default = {k: v for k, v in hyperparameters.items() if defaults.get(k, object()) != v}
    with torch.inference_mode():
        usage = usage_section(encoder)
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
        f"- **Maximum Sequence Length:** {encoder.max_seq_length} tokens",
        f"- **Output Dimensionality:** {encoder.dim} dimensions",
        "- **Similarity Function:** Cosine Similarity",
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
    ]
    if metrics:
        rows = [[k, _fmt(v)] for k, v in sorted(metrics.items())]
        parts += ["## Evaluation", "", _table(rows, ["Metric", "Value"]), ""]
    if dataset:
        parts += ["## Training Dataset", ""]
        parts += [f"- **{k}:** {_fmt(v)}" for k, v in dataset.items() if not isinstance(v, (list, dict))]
        for key, value in dataset.items():
            if isinstance(value, dict):
                parts += ["", f"### {key}", "", _table([[k, _fmt(v)] for k, v in value.items()], ["", "value"])]
            elif isinstance(value, list) and value and isinstance(value[0], Mapping):
                header = list(value[0])
                parts += ["", f"### {key}", "", _table([[_fmt(r.get(h, "")) for h in header] for r in value], header)]
        parts.append("")
    parts += [
        f"### Loss: `{loss_name}`",
        "",
        "SE-F1 between paragraphs (sentence × sentence cosine matrix → precision, recall, F1), "
        "compared with the label by the inner loss:",
        "",
        "```json",
        _json(loss_config),
        "```",
        "",
        "## Training Details",
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
        "</details>",
        "",
    ]
    if train_log:
        header = list(train_log[0])
        parts += ["### Training Logs", "", _table([[_fmt(r.get(h, "")) for h in header] for r in train_log], header), ""]
    parts += ["### Framework Versions", "", *[f"- {k}: {v}" for k, v in (versions or {}).items()], ""]
    return "\n".join(parts)


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), indent=2, default=str)
