"""Corpus-independent clean-up between a source and pre-processing: empty pairs, duplicates, limits.

Duplicates are pairs with the same two texts (surrounding whitespace ignored) in either order, since
SE-F1 is symmetric. They are always counted; `dedupe` removes repeats within a split, and training
pairs that also appear in validation or test (so the evaluation sets are the same with or without it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from parasim.data.records import PairRecord
from parasim.data.splits import SPLITS, proportional_counts

Splits = dict[str, list[PairRecord]]


@dataclass
class CleaningReport:
    empty_pairs: int = 0          # pairs with an empty or whitespace-only paragraph (after any drop)
    dropped_empty: int = 0
    duplicate_pairs: int = 0      # repeats of an earlier pair in the same split
    cross_split_duplicates: int = 0  # train pairs also found in val or test
    removed_duplicates: int = 0


def is_empty(record: PairRecord) -> bool:
    return not (record.text_a.strip() and record.text_b.strip())


def duplicate_key(record: PairRecord) -> tuple[str, str]:
    a, b = record.text_a.strip(), record.text_b.strip()
    return (a, b) if a <= b else (b, a)


def clean(splits: Mapping[str, list[PairRecord]], drop_empty: bool, dedupe: bool) -> tuple[Splits, CleaningReport]:
    """Apply `drop_empty` and `dedupe`, counting what they find (counts are reported even when off)."""
    report = CleaningReport()
    out: Splits = {}
    for name in SPLITS:
        records = list(splits[name])
        if drop_empty:
            kept = [r for r in records if not is_empty(r)]
            report.dropped_empty += len(records) - len(kept)
            records = kept
        report.empty_pairs += sum(is_empty(r) for r in records)
        out[name] = records
    held_out = {duplicate_key(r) for name in SPLITS[1:] for r in out[name]}
    report.cross_split_duplicates = sum(duplicate_key(r) in held_out for r in out["train"])
    for name in SPLITS:
        counts = Counter(duplicate_key(r) for r in out[name])
        report.duplicate_pairs += sum(c - 1 for c in counts.values())
    if dedupe:
        before = sum(len(v) for v in out.values())
        for name in SPLITS:
            seen = set(held_out) if name == "train" else set()
            unique = []
            for record in out[name]:
                key = duplicate_key(record)
                if key not in seen:
                    seen.add(key)
                    unique.append(record)
            out[name] = unique
        report.removed_duplicates = before - sum(len(v) for v in out.values())
    return out, report


def stratified_head(records: list[PairRecord], limit: int | None) -> list[PairRecord]:
    """The first `limit` pairs, taken from each subset in proportion to its size (input order kept).

    With one subset this is `records[:limit]`; with several it keeps the mixture's make-up instead of
    filling the limit from whichever subset comes first.
    """
    if limit is None or limit >= len(records):
        return records
    quota = proportional_counts(limit, Counter(r.subset for r in records))
    out = []
    for record in records:
        if quota[record.subset] > 0:
            quota[record.subset] -= 1
            out.append(record)
    return out
