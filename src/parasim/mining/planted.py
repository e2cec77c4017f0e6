"""A planted collection with known answers, for measuring mining: paraphrased paragraphs hidden among distractors.

Planted pairs are the paraphrase pairs (label 1) of the default data's test split: side A goes into a query
document, side B (its sentences reordered, as crowd paraphrasers do) into a source document. Distractors are
paragraphs that paraphrase nothing in the collection: both sides of the test split's negative pairs (hard ones
share content words with each other) and paragraphs of 2–4 first sentences of the corpus's train sentence pairs
(never their second sentences, which would be unplanted answers): about 3,000 in all. Paragraphs are
grouped into documents of `per_document`, separated by blank lines.
A larger collection built with the same seed holds a smaller one's paragraphs plus more (so a cache is reused).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from parasim.corpora import corpus_path
from parasim.data.mtmp_pan import TERMINATORS, build_splits, load_sentence_pairs
from parasim.errors import ParasimError


@dataclass
class Planted:
    queries: list[tuple[str, str]]  # (document id, text)
    sources: list[tuple[str, str]]
    answers: set[tuple[str, str]]  # (query paragraph text, source paragraph text)
    paragraphs: int


def build(total_paragraphs: int, planted: int, per_document: int = 5, seed: int = 0) -> Planted:
    """`planted` pairs (2 paragraphs each) and distractors up to `total_paragraphs` paragraphs in all."""
    splits = build_splits(corpus_path("mtmp_pan"), seed=0, min_k=2, max_k=4)  # conf/data/mtmp_pan.yaml
    positives = [r for r in splits["test"] + splits["val"] if r.label == 1]
    if planted > len(positives):
        raise ParasimError(f"at most {len(positives)} planted pairs, asked for {planted}")
    distractors = [t for r in splits["test"] + splits["val"] if r.label == 0 for t in (r.text_a, r.text_b)]
    train = [first for first, _, _ in load_sentence_pairs(corpus_path("mtmp_pan"), "train")]
    grouping = random.Random(seed)
    start = 0
    while start + 2 <= len(train):
        size = grouping.randint(2, 4)
        distractors.append(" ".join(s if s.endswith(TERMINATORS) else s + "." for s in train[start:start + size]))
        start += size
    distractors = list(dict.fromkeys(distractors))  # each text once
    need = total_paragraphs - 2 * planted
    if not 0 <= need <= len(distractors):
        raise ParasimError(f"{total_paragraphs} paragraphs need {need} distractors; {len(distractors)} exist")
    rng = random.Random(seed)
    rng.shuffle(distractors)  # same seed: a larger collection's first distractors are a smaller one's
    chosen = positives[:planted]
    query_paragraphs = [r.text_a for r in chosen] + distractors[:need][0::2]
    source_paragraphs = [r.text_b for r in chosen] + distractors[:need][1::2]

    def documents(paragraphs: list[str], prefix: str) -> list[tuple[str, str]]:
        order = list(range(len(paragraphs)))
        random.Random(f"{seed}-{prefix}-{len(paragraphs)}").shuffle(order)
        texts = [paragraphs[i] for i in order]
        return [(f"{prefix}{n:05d}", "\n\n".join(texts[i:i + per_document]) + "\n")
                for n, i in enumerate(range(0, len(texts), per_document))]

    return Planted(documents(query_paragraphs, "q"), documents(source_paragraphs, "s"),
                   {(r.text_a, r.text_b) for r in chosen}, total_paragraphs)


def write_folder(documents: list[tuple[str, str]], folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, text in documents:
        (folder / f"{doc_id}.txt").write_text(text, encoding="utf-8")
    return folder
