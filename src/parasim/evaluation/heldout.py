"""The evaluation suite's held-out sets: which pairs each set holds, read from the corpora embedded in the package.

A set is one entry of `conf/suite/*.yaml` under `sets:`. `corpus: data` takes the test split of the data config
(the default data's 250 MTMP-PAN test paragraph pairs); `mrpc`, `paws` and `stsb` read only the test split that
ships in `parasim/corpora/` (their train and dev parts are not in the package). `level: paragraph` on MRPC or
PAWS joins their sentence pairs into paragraph pairs with the default data's builder (`parasim.data.mtmp_pan`);
`level: sentence` scores each pair as it is. `limit` caps the pairs read from the corpus by a seeded sample
(kept in corpus order), so a paragraph set and a sentence set of one corpus with the same limit share sentences,
and the suite embeds them once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from parasim.corpora import corpus_path
from parasim.data.mtmp_pan import build_paragraph_pairs, sentence_pairs
from parasim.data.readers import read_mrpc, read_paws, read_sts
from parasim.data.records import PairRecord
from parasim.errors import ParasimError

Splits = dict[str, list[PairRecord]]
# corpus → (embedded folder, test file, reader): test splits only, by construction
CORPORA: dict[str, tuple[str, str, Callable[[Path], list[PairRecord]]]] = {
    "mrpc": ("mrpc", "msr_paraphrase_test.txt", read_mrpc),
    "paws": ("paws_wiki", "test.tsv", read_paws),
    "stsb": ("stsbenchmark", "sts-test.csv", read_sts),
}
LEVELS = ("paragraph", "sentence")
METRICS = ("roc_auc", "avg_precision", "mse", "spearman")
KEYS = {"title", "corpus", "level", "limit", "min_k", "max_k", "metrics"}


@dataclass
class HeldOutSet:
    """One set's pairs, how to score them (`level`) and what to report (`metrics`)."""

    name: str
    title: str
    level: str
    records: list[PairRecord]
    metrics: tuple[str, ...]
    source: str  # where the pairs come from, with any cap
    cap: str = ""  # the cap in a few words for the table ("of 8,000"), empty when the set is whole

    @property
    def labels(self) -> np.ndarray:
        return np.asarray([r.label for r in self.records], dtype=np.float64)


def check_spec(name: str, spec: Mapping[str, Any]) -> None:
    """Refuse a set entry with unknown keys or values before any model is loaded."""
    unknown = set(spec) - KEYS
    problems = [f"unknown keys {sorted(unknown)} (known: {sorted(KEYS)})"] if unknown else []
    if spec.get("corpus") not in (*CORPORA, "data"):
        problems.append(f"corpus={spec.get('corpus')!r} (one of data, {', '.join(CORPORA)})")
    if spec.get("level", "paragraph") not in LEVELS:
        problems.append(f"level={spec.get('level')!r} (paragraph or sentence)")
    bad = [m for m in spec.get("metrics") or () if m not in METRICS]
    if bad or not spec.get("metrics"):
        problems.append(f"metrics={list(spec.get('metrics') or [])} (a list of {', '.join(METRICS)})")
    limit = spec.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit < 2):
        problems.append(f"limit={limit!r} (null or a number of pairs ≥ 2)")
    if problems:
        raise ParasimError(f"suite.sets.{name}: " + "; ".join(problems))


def seeded_sample(records: Sequence[PairRecord], limit: int | None, seed: int) -> list[PairRecord]:
    """At most `limit` records, drawn with `seed` and kept in their original order."""
    if limit is None or limit >= len(records):
        return list(records)
    keep = sorted(random.Random(seed).sample(range(len(records)), limit))
    return [records[i] for i in keep]


def _cap_text(used: int, total: int, what: str) -> str:
    return f"all {total:,} {what}" if used == total else f"{used:,} of {total:,} {what} (seeded sample)"


def load_set(name: str, spec: Mapping[str, Any], seed: int, data_source: Callable[[], Splits] | None) -> HeldOutSet:
    """The pairs of set `name` as `spec` describes them (checked with `check_spec` first)."""
    check_spec(name, spec)
    corpus, level, limit = spec["corpus"], spec.get("level", "paragraph"), spec.get("limit")
    if corpus == "data":
        if data_source is None:
            raise ParasimError(f"suite.sets.{name}: corpus=data needs the data config's source (suite.data_source)")
        pool, what = data_source()["test"], "test pairs of the data config"
    else:
        folder, file, reader = CORPORA[corpus]
        pool, what = reader(Path(corpus_path(folder)) / file), f"{corpus} test pairs"
    records = used = seeded_sample(pool, limit, seed)
    source = _cap_text(len(used), len(pool), what)
    cap = "" if len(used) == len(pool) else f"of {len(pool):,}"
    if corpus != "data" and level == "paragraph":
        records = build_paragraph_pairs(sentence_pairs(used), seed, min_k=spec.get("min_k", 2),
                                        max_k=spec.get("max_k", 4), subset=name)
        source = f"{len(records):,} paragraph pairs built from {source}"
        cap = f"from {len(used):,} {cap} sentence pairs" if cap else ""
    if len(records) < 2:
        raise ParasimError(f"suite.sets.{name}: only {len(records)} pairs; raise its limit")
    return HeldOutSet(name, spec.get("title") or name, level, records, tuple(spec["metrics"]), source, cap)
