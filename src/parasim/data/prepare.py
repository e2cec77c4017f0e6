"""Pre-processing done once per corpus + tokenizer + splitter setting, cached on disk.

Every paragraph is split into units (sentences, or the whole paragraph for paragraph-level losses),
each distinct unit is tokenized once, and pairs become lists of unit ids. The result is stored as a
plain `.npz` (no pickle) under a fingerprint of everything that shapes it, so training steps do no
text processing and a second run loads it in well under a second.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transformers import PreTrainedTokenizerBase

from parasim.data.records import PairRecord
from parasim.data.splitter import split_sentences

FORMAT_VERSION = 3  # 3: merged splitter pieces keep the whitespace between their parts


@dataclass
class PreparedSplit:
    """Pairs of one split as unit ids into the shared token table."""

    a: list[np.ndarray]
    b: list[np.ndarray]
    labels: np.ndarray
    subsets: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class PreparedCorpus:
    units: list[np.ndarray]
    splits: dict[str, PreparedSplit]
    subset_names: list[str]
    fingerprint: str
    truncated_units: int


def _ragged(arrays: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(a) for a in arrays])
    flat = np.concatenate([np.asarray(a, dtype=np.int32) for a in arrays]) if arrays else np.zeros(0, np.int32)
    return flat.astype(np.int32), offsets


def _unragged(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    vocab = json.dumps(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(f"{type(tokenizer).__name__}|{vocab}".encode()).hexdigest()[:16]


def fingerprint(splits: Mapping[str, Sequence[PairRecord]], tokenizer: PreTrainedTokenizerBase, unit: str,
                max_seq_length: int, paragraph_max_tokens: int | None) -> str:
    """Hash of the records' content and every setting that changes the prepared tensors."""
    digest = hashlib.sha256()
    settings = [FORMAT_VERSION, unit, max_seq_length, paragraph_max_tokens, tokenizer_fingerprint(tokenizer)]
    digest.update(json.dumps(settings).encode())
    for name in sorted(splits):
        digest.update(name.encode())
        for r in splits[name]:
            digest.update(f"{r.text_a}\x1f{r.text_b}\x1f{r.label!r}\x1f{r.subset}\x1e".encode())
    return digest.hexdigest()[:24]


def _cut_paragraph(text: str, tokenizer: PreTrainedTokenizerBase, max_tokens: int | None) -> str:
    """The reference quirk: tokenize with a cap and decode back, losing a long paragraph's tail."""
    if max_tokens is None:
        return text
    ids = tokenizer(text, truncation=True, max_length=max_tokens)["input_ids"]
    return tokenizer.decode(ids, skip_special_tokens=True)


def _truncate(ids: list[int], max_length: int) -> list[int]:
    """Keep the first tokens and the closing special token, as the tokenizer's own truncation does."""
    return ids if len(ids) <= max_length else [*ids[: max_length - 1], ids[-1]]


def prepare(splits: Mapping[str, Sequence[PairRecord]], tokenizer: PreTrainedTokenizerBase, unit: str = "sentences",
            max_seq_length: int = 384, paragraph_max_tokens: int | None = None) -> PreparedCorpus:
    """Split, dedupe and tokenize every unit of every split."""
    if unit not in ("sentences", "paragraphs"):
        raise ValueError(f"unit must be 'sentences' or 'paragraphs', got {unit!r}")
    unit_ids: dict[str, int] = {}
    subset_ids: dict[str, int] = {}

    def units_of(text: str) -> np.ndarray:
        text = _cut_paragraph(text, tokenizer, paragraph_max_tokens)
        pieces = split_sentences(text) if unit == "sentences" else [text] if text.strip() else []  # empty: no unit
        return np.asarray([unit_ids.setdefault(p, len(unit_ids)) for p in pieces], dtype=np.int32)

    prepared: dict[str, PreparedSplit] = {}
    for name, records in splits.items():
        prepared[name] = PreparedSplit(
            a=[units_of(r.text_a) for r in records],
            b=[units_of(r.text_b) for r in records],
            labels=np.asarray([r.label for r in records], dtype=np.float32),
            subsets=np.asarray([subset_ids.setdefault(r.subset, len(subset_ids)) for r in records], dtype=np.int32),
        )
    texts = list(unit_ids)
    full = tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"] if texts else []
    truncated = sum(len(ids) > max_seq_length for ids in full)
    return PreparedCorpus(
        units=[np.asarray(_truncate(ids, max_seq_length), dtype=np.int32) for ids in full],
        splits=prepared,
        subset_names=list(subset_ids),
        fingerprint=fingerprint(splits, tokenizer, unit, max_seq_length, paragraph_max_tokens),
        truncated_units=truncated,
    )


def save(corpus: PreparedCorpus, path: Path) -> None:
    """Write atomically: a killed run never leaves a half-written cache that looks complete."""
    arrays: dict[str, np.ndarray] = {}
    arrays["units_flat"], arrays["units_offsets"] = _ragged(corpus.units)
    for name, split in corpus.splits.items():
        arrays[f"{name}.a_flat"], arrays[f"{name}.a_offsets"] = _ragged(split.a)
        arrays[f"{name}.b_flat"], arrays[f"{name}.b_offsets"] = _ragged(split.b)
        arrays[f"{name}.labels"] = split.labels
        arrays[f"{name}.subsets"] = split.subsets
    meta = {"splits": list(corpus.splits), "subset_names": corpus.subset_names,
            "fingerprint": corpus.fingerprint, "truncated_units": corpus.truncated_units}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        np.savez(handle, **arrays)
    os.replace(tmp, path)


def load(path: Path) -> PreparedCorpus:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        splits = {
            name: PreparedSplit(
                a=_unragged(data[f"{name}.a_flat"], data[f"{name}.a_offsets"]),
                b=_unragged(data[f"{name}.b_flat"], data[f"{name}.b_offsets"]),
                labels=data[f"{name}.labels"],
                subsets=data[f"{name}.subsets"],
            )
            for name in meta["splits"]
        }
        units = _unragged(data["units_flat"], data["units_offsets"])
    return PreparedCorpus(units, splits, meta["subset_names"], meta["fingerprint"], meta["truncated_units"])


def prepare_cached(splits: Mapping[str, Sequence[PairRecord]], tokenizer: PreTrainedTokenizerBase,
                   cache_dir: str | Path | None, **settings) -> tuple[PreparedCorpus, bool]:
    """`prepare` with an on-disk cache keyed by the fingerprint; returns (corpus, cache_hit)."""
    if cache_dir is None:
        return prepare(splits, tokenizer, **settings), False
    key = fingerprint(splits, tokenizer, settings.get("unit", "sentences"), settings.get("max_seq_length", 384),
                      settings.get("paragraph_max_tokens"))
    path = Path(cache_dir) / f"{key}.npz"
    if path.is_file():
        return load(path), True
    corpus = prepare(splits, tokenizer, **settings)
    save(corpus, path)
    return corpus, False
