"""What a local sentence-transformers directory says about its own pipeline, read from its config files.

`modules.json` lists the modules (Transformer → Pooling → optional Normalize; a folder it names may be
missing, as `2_Normalize` is in the all-MiniLM-L6-v2 package: Normalize has no files), `1_Pooling/config.json`
the pooling mode, `sentence_bert_config.json` the token cap and lower-casing. A directory without
`modules.json` is a plain Hugging Face model, which sentence-transformers loads as mean pooling without
Normalize; so does parasim. Module types are matched on their class name, so the legacy
`sentence_transformers.models.Pooling` and version 6's `sentence_transformers.….pooling.Pooling` both load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import AutoConfig, AutoTokenizer

from parasim.errors import ParasimError
from parasim.models.pooling import Pooling

SUPPORTED = ("Transformer", "Pooling", "Normalize")


@dataclass(frozen=True)
class StLayout:
    """The pieces of a sentence-transformers directory parasim reimplements."""

    transformer_dir: Path  # config.json, weights, tokenizer
    pooling: Pooling
    max_seq_length: int | None  # None: the directory does not say (see `token_cap`)
    do_lower_case: bool


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ParasimError(f"{path}: cannot read it as JSON ({err})") from err


def read_layout(path: str | Path) -> StLayout:
    """The layout of the model at `path`; an unsupported module (Dense, LayerNorm, …) is refused by name."""
    root = Path(path)
    modules_file = root / "modules.json"
    if not modules_file.is_file():
        settings = _st_settings(root)
        return StLayout(root, Pooling("mean", normalize=False), settings.get("max_seq_length"),
                        bool(settings.get("do_lower_case")))
    modules = [(str(m.get("type", "")).rsplit(".", 1)[-1], root / m.get("path", "")) for m in _json(modules_file)]
    kinds = [kind for kind, _ in modules]
    unsupported = [kind for kind in kinds if kind not in SUPPORTED]
    if unsupported or kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]):
        raise ParasimError(f"{modules_file}: modules {kinds}; parasim runs Transformer → Pooling → optional "
                           "Normalize" + (f" and cannot run {unsupported}" if unsupported else ""))
    transformer_dir, pooling_dir = modules[0][1], modules[1][1]
    pooling = Pooling.from_st_config(_json(pooling_dir / "config.json"), normalize=len(kinds) == 3,
                                     source=str(pooling_dir / "config.json"))
    settings = _st_settings(transformer_dir)
    return StLayout(transformer_dir, pooling, settings.get("max_seq_length"), bool(settings.get("do_lower_case")))


def _st_settings(transformer_dir: Path) -> dict[str, Any]:
    path = transformer_dir / "sentence_bert_config.json"
    return _json(path) if path.is_file() else {}


def token_cap(layout: StLayout) -> int:
    """The directory's `max_seq_length`, else sentence-transformers' fallback: the tokenizer's
    `model_max_length` capped at the model's `max_position_embeddings` (512 for BERT, MPNet and RoBERTa)."""
    if layout.max_seq_length is not None:
        return int(layout.max_seq_length)
    config = AutoConfig.from_pretrained(layout.transformer_dir, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(layout.transformer_dir, local_files_only=True)
    return int(min(tokenizer.model_max_length, getattr(config, "max_position_embeddings", tokenizer.model_max_length)))


def max_seq_length(path: str | None) -> int:
    """The token cap of the model at `path` (the `parasim_st_max_seq_length` config resolver of `model=st_dir`)."""
    if not path:
        raise ParasimError("model=st_dir needs the directory: model.path=DIR (a sentence-transformers model).")
    if not (Path(path) / "config.json").is_file() and not (Path(path) / "modules.json").is_file():
        raise ParasimError(f"model.path={path} is not a sentence-transformers directory (no modules.json or "
                           "config.json).")
    return token_cap(read_layout(path))
