"""Candidate pairs: for each query paragraph, the top-k source paragraphs by paragraph cosine and the top-k by
best sentence match, before SE-F1 re-ranks them.

Two routes, because each misses what the other finds: a paraphrased paragraph reordered or padded with new
sentences can drift from its source as a whole (paragraph cosine), while one copied sentence in a long paragraph
shows only as a sentence match. The sentence route searches each query sentence's `sentence_k` nearest distinct
source sentences and credits every source paragraph holding one with that cosine; a sentence held by more than
`max_sentence_paragraphs` paragraphs (boilerplate: "Chapter I.") is evidence of nothing and is not expanded.

Mining a collection against itself (`self_pairs`) drops a paragraph's pair with itself, pairs inside one
document unless `same_document`, and keeps each unordered pair once. Each route searches `k + overfetch`
neighbours so that the dropped ones still leave k.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
from tqdm.auto import tqdm

from parasim.mining.index import search

QUERY_BLOCK = 2048  # query paragraphs per sentence-route block (bounds the expanded hit arrays)


@dataclass
class Side:
    """One collection's vectors: paragraphs, sentence occurrences (CSR per paragraph), each paragraph's document."""

    paragraphs: np.ndarray  # (P, d)
    sentences: np.ndarray  # (S, d), in paragraph order
    sentence_ptr: np.ndarray  # (P + 1,)
    document: np.ndarray  # (P,)


@dataclass
class SentenceIndex:
    """Distinct source sentences in a FAISS index, and the source paragraphs holding each (CSR)."""

    index: faiss.Index
    ptr: np.ndarray  # (distinct + 1,)
    paragraphs: np.ndarray  # source paragraph of each occurrence, grouped by distinct sentence


def sentence_occurrences(keys: np.ndarray, sentence_ptr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first occurrence of each distinct sentence, CSR pointer, paragraph of each occurrence grouped by sentence)."""
    distinct, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    paragraph_of = np.repeat(np.arange(len(sentence_ptr) - 1), np.diff(sentence_ptr))
    order = np.argsort(inverse, kind="stable")
    ptr = np.zeros(len(distinct) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(inverse, minlength=len(distinct)))
    return first, ptr, paragraph_of[order]


def _allowed(q: np.ndarray, s: np.ndarray, query: Side, source: Side, self_pairs: bool,
             same_document: bool) -> np.ndarray:
    keep = s >= 0
    if self_pairs:
        keep &= q != s
        if not same_document:
            keep &= query.document[q] != source.document[np.maximum(s, 0)]
    return keep


def _top_k(q: np.ndarray, s: np.ndarray, score: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best score per (q, s), then the k best s per q."""
    if not len(q):
        return q, s, score
    order = np.lexsort((-score, s, q))
    q, s, score = q[order], s[order], score[order]
    first = np.r_[True, (q[1:] != q[:-1]) | (s[1:] != s[:-1])]
    q, s, score = q[first], s[first], score[first]
    order = np.lexsort((-score, q))
    q, s, score = q[order], s[order], score[order]
    starts = np.r_[0, np.flatnonzero(q[1:] != q[:-1]) + 1]
    rank = np.arange(len(q)) - np.repeat(starts, np.diff(np.r_[starts, len(q)]))
    keep = rank < k
    return q[keep], s[keep], score[keep]


def by_paragraph(index: faiss.Index, query: Side, source: Side, k: int, overfetch: int, self_pairs: bool,
                 same_document: bool, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Top-k source paragraphs of each query paragraph by paragraph cosine."""
    scores, ids = search(index, query.paragraphs, k + overfetch, "candidates: paragraphs" if progress else None)
    q = np.repeat(np.arange(len(query.paragraphs)), ids.shape[1])
    s, score = ids.ravel(), scores.ravel()
    keep = _allowed(q, s, query, source, self_pairs, same_document)
    q, s, _ = _top_k(q[keep], s[keep], score[keep], k)
    return q, s


def by_sentence(sentence_index: SentenceIndex, query: Side, source: Side, k: int, sentence_k: int,
                max_sentence_paragraphs: int, self_pairs: bool, same_document: bool,
                progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Top-k source paragraphs of each query paragraph by its best sentence match."""
    counts = np.diff(sentence_index.ptr)
    out_q, out_s = [], []
    n = len(query.paragraphs)
    with tqdm(total=n, desc="candidates: sentences", unit="paragraph", disable=not progress) as bar:
        for start in range(0, n, QUERY_BLOCK):
            stop = min(start + QUERY_BLOCK, n)
            lo, hi = query.sentence_ptr[start], query.sentence_ptr[stop]
            scores, ids = search(sentence_index.index, query.sentences[lo:hi], sentence_k)
            owner = np.repeat(np.arange(start, stop), np.diff(query.sentence_ptr[start:stop + 1]))
            owner = np.repeat(owner, ids.shape[1])
            hit, score = ids.ravel(), scores.ravel()
            use = (hit >= 0) & (counts[np.maximum(hit, 0)] <= max_sentence_paragraphs)
            owner, hit, score = owner[use], hit[use], score[use]
            fan = counts[hit]
            offsets = np.repeat(sentence_index.ptr[hit] - np.r_[0, np.cumsum(fan)[:-1]], fan) + np.arange(fan.sum())
            q, s = np.repeat(owner, fan), sentence_index.paragraphs[offsets]
            score = np.repeat(score, fan)
            keep = _allowed(q, s, query, source, self_pairs, same_document)
            q, s, _ = _top_k(q[keep], s[keep], score[keep], k)  # filtered first: nothing kept is dropped later
            out_q.append(q)
            out_s.append(s)
            bar.update(stop - start)
    return np.concatenate(out_q) if out_q else np.zeros(0, np.int64), \
        np.concatenate(out_s) if out_s else np.zeros(0, np.int64)


def merge(routes: dict[str, tuple[np.ndarray, np.ndarray]], self_pairs: bool) -> tuple[np.ndarray, np.ndarray,
                                                                                       dict[str, np.ndarray]]:
    """The union of the routes' pairs (each unordered pair once when `self_pairs`), with a flag per route."""
    names = list(routes)
    q = np.concatenate([routes[n][0] for n in names]).astype(np.int64)
    s = np.concatenate([routes[n][1] for n in names]).astype(np.int64)
    route = np.concatenate([np.full(len(routes[n][0]), i) for i, n in enumerate(names)])
    if self_pairs:
        q, s = np.minimum(q, s), np.maximum(q, s)
    pairs, inverse = np.unique(np.stack([q, s], axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    flags = {}
    for i, name in enumerate(names):
        flag = np.zeros(len(pairs), dtype=bool)
        flag[inverse[route == i]] = True
        flags[name] = flag
    return pairs[:, 0], pairs[:, 1], flags
