"""Seeded train/val/test splits that stay put when the corpus grows.

Each pair goes to a split by a hash of (seed, its key) alone, never by its position or by how many
other pairs exist, so adding or removing unrelated pairs never moves a pair to another split. The
price: split sizes are 70/15/15 in expectation, not to the pair (±1-2 points on a few thousand pairs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence

from parasim.data.records import PairRecord

SPLITS = ("train", "val", "test")
FRACTIONS = (0.70, 0.15, 0.15)
_SCALE = float(1 << 64)


def pair_key(record: PairRecord) -> str:
    """Both texts: a pair's split depends on its content only."""
    return f"{record.text_a}\x1f{record.text_b}"


def text_a_key(record: PairRecord) -> str:
    """The first text only: all paraphrases of one original share a split (no original in two splits)."""
    return record.text_a


KEYS: dict[str, Callable[[PairRecord], str]] = {"pair": pair_key, "text_a": text_a_key}


def split_of(key: str, seed: int, fractions: Sequence[float] = FRACTIONS) -> str:
    """The split a key falls in: a uniform draw in [0, 1) from sha256(seed, key), cut at the cumulative fractions."""
    digest = hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / _SCALE
    edge = 0.0
    for name, fraction in zip(SPLITS, fractions, strict=True):
        edge += fraction
        if point < edge:
            return name
    return SPLITS[-1]


def split_records(records: Iterable[PairRecord], seed: int, fractions: Sequence[float] = FRACTIONS,
                  key: Callable[[PairRecord], str] = pair_key) -> dict[str, list[PairRecord]]:
    """{train, val, test} lists; records keep their input order within a split."""
    if len(fractions) != len(SPLITS) or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {list(fractions)}")
    out: dict[str, list[PairRecord]] = {name: [] for name in SPLITS}
    for record in records:
        out[split_of(key(record), seed, fractions)].append(record)
    return out


def proportional_counts(total: int, weights: Mapping[Hashable, int]) -> dict[Hashable, int]:
    """Split an integer total in proportion to weights (largest remainder), summing exactly to `total`."""
    whole = sum(weights.values())
    if whole == 0:
        return dict.fromkeys(weights, 0)
    exact = {k: total * w / whole for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[k] += 1
    return counts
