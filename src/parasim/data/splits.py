"""Seeded train/val/test splits and cross-validation folds that stay put when the corpus grows.

Each pair goes to a split by a hash of (seed, its key) alone, never by its position or by how many
other pairs exist, so adding or removing unrelated pairs never moves a pair to another split. The
price: split sizes are 70/15/15 in expectation, not to the pair (±1-2 points on a few thousand pairs).
Folds (`fold_splits`) use the same hash: train + val are re-split into k folds, fold i is the
validation split of run i, and the test split is left as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence

from parasim.data.records import PairRecord
from parasim.errors import ParasimError

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


def _point(key: str, seed: int) -> float:
    """A uniform draw in [0, 1) from sha256(seed, key)."""
    digest = hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def split_of(key: str, seed: int, fractions: Sequence[float] = FRACTIONS) -> str:
    """The split a key falls in: `_point(key, seed)` cut at the cumulative fractions."""
    point = _point(key, seed)
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


def fold_of(key: str, seed: int, folds: int) -> int:
    """The fold (0 … folds − 1) a key falls in: the same hash, salted, cut into equal parts.

    The salt keeps folds independent of the splits: keyed and seeded like a split (Webis splits by the first
    text with seed 0), the unsalted point would put train in folds 0–3 and val (points 0.70–0.85) mostly in
    fold 4, which would hold 5 % of the pool instead of 20 %.
    """
    return min(int(_point(f"fold\x1f{key}", seed) * folds), folds - 1)


def fold_splits(records: Mapping[str, list[PairRecord]], folds: int, fold: int | None, seed: int = 0,
                pool: Sequence[str] = ("train", "val"),
                key: Callable[[PairRecord], str] = text_a_key) -> dict[str, list[PairRecord]]:
    """Fold `fold` of the `pool` splits as val, the other folds as train; test unchanged (a source's val split
    outside the pool goes unused).

    Pairs are assigned by `key` (default: the first text, so every pair of one paragraph A lands in one fold,
    as Webis and ALECS split by their original). Folds are disjoint, together they are the pool, and a pair
    keeps its fold when the corpus grows; their sizes are equal in expectation, not to the pair.
    """
    if folds < 2:
        raise ParasimError(f"data.folds must be >= 2 (or null for the plain splits), got {folds}")
    if fold is None or not 0 <= fold < folds:
        raise ParasimError(f"data.folds={folds} needs data.fold in 0..{folds - 1}, got {fold} "
                           f"(one run per fold: -m data.fold={','.join(map(str, range(folds)))})")
    unknown = set(pool) - set(records)
    if unknown or not pool or "test" in pool:
        raise ParasimError(f"data.fold_splits must name splits other than test among {sorted(records)}, got "
                           f"{list(pool)}")
    members = [record for name in pool for record in records[name]]
    out = {name: list(split) for name, split in records.items() if name not in pool}
    out["train"] = [r for r in members if fold_of(key(r), seed, folds) != fold]
    out["val"] = [r for r in members if fold_of(key(r), seed, folds) == fold]
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
