"""Random negatives the reference way: a paragraph against the paraphrase of some other pair (w-, a-)."""

from __future__ import annotations

import random

from parasim.data.records import PairRecord
from parasim.errors import ParasimError

QUICK_TRIES = 32


def random_negatives(positives: list[PairRecord], count: int, seed: int, subset: str) -> list[PairRecord]:
    """Build `count` label-0.0 pairs (text_a of pair i, text_b of another pair j), deterministic per seed.

    A candidate is refused when it is a known positive pair or when its text_b is text_a itself. "Known
    positive" covers j == i, a text_b identical to pair i's own paraphrase, and in ALECS (one original,
    up to four paraphrases) every sibling paraphrase, which would otherwise be a false negative.
    Anchors i run through the positives in a shuffled order, again and again if `count` exceeds their
    number; an anchor without any allowed partner is left out.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if count == 0:
        return []
    if not positives:
        raise ParasimError(f"cannot build {count} {subset!r} negatives: there are no positive pairs")
    rng = random.Random(seed)
    known = {(pair.text_a, pair.text_b) for pair in positives}
    negatives: list[PairRecord] = []
    usable = list(range(len(positives)))
    while len(negatives) < count:
        if not usable:
            raise ParasimError(
                f"cannot build {subset!r} negatives: every candidate pairs a text with one of its own "
                "paraphrases or with itself (at least two distinct originals are needed)"
            )
        dead: set[int] = set()
        for i in rng.sample(usable, len(usable)):
            partner = _partner(positives, i, rng, known)
            if partner is None:
                dead.add(i)
                continue
            negatives.append(PairRecord(positives[i].text_a, partner.text_b, 0.0, subset))
            if len(negatives) == count:
                break
        usable = [i for i in usable if i not in dead]
    return negatives


def _partner(
    positives: list[PairRecord], i: int, rng: random.Random, known: set[tuple[str, str]]
) -> PairRecord | None:
    """A random allowed partner for anchor i: a few blind draws first, then a full shuffled scan."""
    anchor = positives[i]
    for _ in range(QUICK_TRIES):
        other = positives[rng.randrange(len(positives))]
        if _allowed(anchor, other, known):
            return other
    for j in rng.sample(range(len(positives)), len(positives)):
        if _allowed(anchor, positives[j], known):
            return positives[j]
    return None


def _allowed(anchor: PairRecord, other: PairRecord, known: set[tuple[str, str]]) -> bool:
    """False when (anchor.text_a, other.text_b) could be a paraphrase pair (see `random_negatives`)."""
    return other.text_b != anchor.text_a and (anchor.text_a, other.text_b) not in known
