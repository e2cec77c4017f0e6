"""Paragraph pairs built deterministically from labelled sentence pairs: MTMP-PAN (the embedded default data),
and any other 0/1 sentence-pair corpus (`sentence_pairs`: MRPC and PAWS-Wiki in the held-out evaluation suite).

k (2–6) sentence pairs are joined into one paragraph pair: all paraphrase pairs → label 1 (side B's
sentence order shuffled, as crowd paraphrasers reorder); the corpus's non-paraphrase sentence pairs,
which are hard negatives in all three corpora (MTMP-PAN: same document, ≥ 4 shared content words; MRPC:
related news sentences; PAWS: word swaps with high overlap) → label 0; side A of paraphrase pairs against
side B of another group → label 0 (random negative). Positives and negatives are balanced. MTMP-PAN train
pairs come only from the corpus's train split; validation and test pairs from disjoint halves of its test
split, so no sentence crosses splits.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from parasim.data.readers.textio import read_text
from parasim.data.records import PairRecord
from parasim.errors import ParasimError

SentencePair = tuple[str, str, int]
TERMINATORS = tuple(".!?\"')")


def load_sentence_pairs(root: str | Path, split: str) -> list[SentencePair]:
    """Line i of `pan-{split}_s1.txt`, `_s2.txt` and `.labels` form pair i."""
    root = Path(root)
    files = [root / f"pan-{split}_s1.txt", root / f"pan-{split}_s2.txt", root / f"pan-{split}.labels"]
    for path in files:
        if not path.is_file():
            raise ParasimError(f"MTMP-PAN file missing: {path}")
    first, second, labels = (read_text(path).splitlines() for path in files)
    if not len(first) == len(second) == len(labels):
        raise ParasimError(f"MTMP-PAN {split} files differ in line count under {root}.")
    return [(a.strip(), b.strip(), int(label)) for a, b, label in zip(first, second, labels, strict=True)]


def sentence_pairs(records: Sequence[PairRecord]) -> list[SentencePair]:
    """0/1-labelled sentence-level records (e.g. `read_mrpc`, `read_paws`) as the builder's (a, b, label)."""
    graded = sorted({r.label for r in records} - {0.0, 1.0})
    if graded:
        raise ParasimError(f"Paragraph pairs are built from 0/1-labelled sentence pairs; got labels {graded[:5]}.")
    return [(r.text_a.strip(), r.text_b.strip(), int(r.label)) for r in records]


def _as_sentence(text: str) -> str:
    """Terminate unpunctuated sentences so the SE-F1 splitter sees the boundary after joining."""
    return text if text.endswith(TERMINATORS) else text + "."


def _groups(pairs: list[SentencePair], rng: random.Random, min_k: int, max_k: int) -> list[list[SentencePair]]:
    groups, start = [], 0
    while start + min_k <= len(pairs):
        size = rng.randint(min_k, max_k)
        groups.append(pairs[start : start + size])
        start += size
    return groups


def _join(sentences: list[str]) -> str:
    return " ".join(_as_sentence(s) for s in sentences)


def build_paragraph_pairs(pairs: list[SentencePair], seed: int, min_k: int = 2, max_k: int = 6,
                          shuffle_b: bool = True, subset: str = "mtmp_pan") -> list[PairRecord]:
    """Balanced paragraph pairs (half positives, a quarter hard and a quarter random negatives)."""
    rng = random.Random(seed)
    positives = [p for p in pairs if p[2] == 1]
    negatives = [p for p in pairs if p[2] == 0]
    rng.shuffle(positives)
    rng.shuffle(negatives)
    half = len(positives) // 2
    positive_groups = _groups(positives[:half], rng, min_k, max_k)
    random_groups = _groups(positives[half:], rng, min_k, max_k)
    hard_groups = _groups(negatives, rng, min_k, max_k)

    records = []
    for group in positive_groups:
        side_b = [b for _, b, _ in group]
        if shuffle_b:
            rng.shuffle(side_b)
        records.append(PairRecord(_join([a for a, _, _ in group]), _join(side_b), 1.0, subset))
    n_hard = min(len(hard_groups), len(positive_groups) // 2)
    n_random = min(len(random_groups) - 1, len(positive_groups) - n_hard)
    for group in hard_groups[:n_hard]:
        records.append(PairRecord(_join([a for a, _, _ in group]), _join([b for _, b, _ in group]), 0.0, subset))
    for i in range(n_random):
        other = random_groups[i + 1]
        records.append(PairRecord(_join([a for a, _, _ in random_groups[i]]),
                                  _join([b for _, b, _ in other]), 0.0, subset))
    rng.shuffle(records)
    return records


def build_splits(root: str | Path, seed: int = 0, min_k: int = 2, max_k: int = 6,
                 shuffle_b: bool = True) -> dict[str, list[PairRecord]]:
    """train from the corpus's train split; val and test from disjoint halves of its test split."""
    if not 1 <= min_k <= max_k:
        raise ParasimError(f"Need 1 <= min_k <= max_k, got min_k={min_k}, max_k={max_k}.")
    train = load_sentence_pairs(root, "train")
    test = load_sentence_pairs(root, "test")
    order = list(range(len(test)))
    random.Random(seed).shuffle(order)
    val_pool = [test[i] for i in order[: len(order) // 2]]
    test_pool = [test[i] for i in order[len(order) // 2 :]]
    kwargs = dict(min_k=min_k, max_k=max_k, shuffle_b=shuffle_b)
    return {
        "train": build_paragraph_pairs(train, seed, **kwargs),
        "val": build_paragraph_pairs(val_pool, seed + 1, **kwargs),
        "test": build_paragraph_pairs(test_pool, seed + 2, **kwargs),
    }
