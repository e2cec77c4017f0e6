"""Dataset card: the statistics the seed's model card shows, computed from the prepared corpus.

Token lengths come from the cached token table (no re-tokenisation on a cache hit): the word-piece
tokens of a column as the encoder sees them, i.e. after the per-sequence cap (`max_seq_length`), special
tokens not counted. Sentence counts use the SE-F1 splitter on the raw text. The layout (scalars, flat
dicts, lists of flat dicts) is what the export's model card renders as bullets and tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from parasim.data.cleaning import CleaningReport
from parasim.data.prepare import PreparedCorpus
from parasim.data.records import PairRecord
from parasim.data.splits import SPLITS
from parasim.data.splitter import split_sentences

SAMPLE_CHARS = 200
MAX_LABEL_ROWS = 10


def build_card(records: Mapping[str, Sequence[PairRecord]], corpus: PreparedCorpus, report: CleaningReport, *,
               unit: str, max_seq_length: int, special_tokens: int, samples: int = 3) -> dict[str, Any]:
    """A JSON-ready dict: sizes, per-subset counts, train column statistics, labels, clean-up counts, samples."""
    train = records["train"]
    lengths = np.asarray([len(ids) - special_tokens for ids in corpus.units], dtype=np.int64)
    return {
        "fingerprint": corpus.fingerprint,
        "unit": unit,
        "max_seq_length": max_seq_length,
        "distinct_units": len(corpus.units),
        "truncated_units": corpus.truncated_units,
        **asdict(report),
        "pairs": {name: len(records[name]) for name in SPLITS},
        "subsets": _subset_rows(records),
        "columns (train)": [
            _column_stats("text_a", corpus.splits["train"].a, [r.text_a for r in train], lengths),
            _column_stats("text_b", corpus.splits["train"].b, [r.text_b for r in train], lengths),
        ],
        "labels": _label_rows(records),
        "samples (train)": _samples(train, samples),
    }


def _subset_rows(records: Mapping[str, Sequence[PairRecord]]) -> list[dict[str, Any]]:
    counts = {name: Counter(r.subset for r in records[name]) for name in SPLITS}
    names = list(dict.fromkeys(r.subset for name in SPLITS for r in records[name]))
    return [{"subset": s, **{name: counts[name][s] for name in SPLITS}} for s in names]


def _column_stats(column: str, unit_lists: Sequence[np.ndarray], texts: Sequence[str],
                  lengths: np.ndarray) -> dict[str, Any]:
    """min/mean/max tokens (from the unit table's `lengths`) and sentences of one column."""
    tokens = np.asarray([int(lengths[units].sum()) for units in unit_lists], dtype=np.int64)
    sentences = np.asarray([len(split_sentences(text)) for text in texts], dtype=np.int64)
    row: dict[str, Any] = {"column": column}
    for name, values in (("tokens", tokens), ("sentences", sentences)):
        if len(values):
            row |= {f"{name} min": int(values.min()), f"{name} mean": round(float(values.mean()), 2),
                    f"{name} max": int(values.max())}
    return row


def _label_key(label: float, graded: bool) -> str:
    if not graded:
        return f"{label:g}"
    low = min(int(label * 5), 4) / 5
    return f"[{low:.1f}, {low + 0.2:.1f}{']' if low == 0.8 else ')'}"


def _label_rows(records: Mapping[str, Sequence[PairRecord]]) -> list[dict[str, Any]]:
    """Counts per label value and split; graded labels (more than 10 values) in five bins."""
    graded = len({r.label for name in SPLITS for r in records[name]}) > MAX_LABEL_ROWS
    counts = {name: Counter(_label_key(r.label, graded) for r in records[name]) for name in SPLITS}
    keys = sorted({k for c in counts.values() for k in c})
    return [{"label": k, **{name: counts[name][k] for name in SPLITS}} for k in keys]


def _samples(records: Sequence[PairRecord], count: int) -> list[dict[str, Any]]:
    """The first pair of each label value, then the next pairs, up to `count`."""
    firsts: dict[float, PairRecord] = {}
    for record in records:
        firsts.setdefault(record.label, record)
    picked = list(dict.fromkeys([*firsts.values(), *records[:count]]))[:count]
    return [{"text_a": _clip(r.text_a), "text_b": _clip(r.text_b), "label": r.label, "subset": r.subset}
            for r in picked]


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…"
