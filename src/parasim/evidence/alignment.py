"""The sentence alignment behind a pair's SE-F1: for every sentence of each side, its best match on the other side.

SE-F1 is built from these matches (shared spec): precision averages max(0, best cosine) over B's sentences,
recall over A's, F1 = 2PR / (P + R + 1e-10). An `Alignment` holds the matches with their text and character spans
in the original paragraph, and the precision, recall and F1 that follow from them, so anyone can recompute the
score from what they are shown (to 1e-6: tested against `sef1_scores`, which computes the same in one batched
pass). `align` aligns one pair (notebooks); `explain` scores and aligns many pairs, embedding each distinct
sentence once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from parasim.data.splitter import Span, split_spans
from parasim.evaluation.embedding import embed
from parasim.models.batching import pad_index
from parasim.models.encoder import SentenceEncoder
from parasim.models.sef1 import EPS, sef1_scores

PAIR_BLOCK = 4096  # pairs per batched SE-F1 call, as in parasim.evaluation.scorers


@dataclass
class Side:
    """One paragraph's sentences: their text and character spans, and each one's best match on the other side."""

    sentences: list[str]
    spans: list[Span]
    match: np.ndarray  # index of the best-matching sentence on the other side (-1 when the other side is empty)
    cosine: np.ndarray  # that match's cosine, in [-1, 1]

    def score(self) -> float:
        """Mean of max(0, best cosine): recall for side A, precision for side B (0 for an empty side)."""
        return float(np.clip(self.cosine, 0.0, 1.0).mean()) if len(self.cosine) else 0.0


@dataclass
class Alignment:
    """The alignment of one pair: both sides, the n × m cosine matrix, and the scores that follow from it."""

    a: Side
    b: Side
    similarity: np.ndarray  # (len(a.sentences), len(b.sentences)) float32 cosines

    @property
    def precision(self) -> float:
        return self.b.score()

    @property
    def recall(self) -> float:
        return self.a.score()

    @property
    def sef1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r + EPS)

    def to_dict(self, offset_a: int = 0, offset_b: int = 0) -> dict[str, Any]:
        """JSON-ready: per sentence its index, text, span, and its best match's index, text, span and cosine.

        `offset_a`/`offset_b` shift the spans, e.g. into a document's coordinates when a paragraph starts there.
        """
        return {"precision": self.precision, "recall": self.recall, "sef1": self.sef1,
                "a": _side_dict(self.a, self.b, offset_a, offset_b),
                "b": _side_dict(self.b, self.a, offset_b, offset_a)}


def _side_dict(side: Side, other: Side, offset: int, other_offset: int) -> list[dict[str, Any]]:
    rows = []
    for i, (text, (start, end)) in enumerate(zip(side.sentences, side.spans, strict=True)):
        j = int(side.match[i])
        row: dict[str, Any] = {"index": i, "text": text, "span": [start + offset, end + offset], "match": None,
                               "match_text": None, "match_span": None, "cosine": None}
        if j >= 0:
            s, e = other.spans[j]
            row.update(match=j, match_text=other.sentences[j], match_span=[s + other_offset, e + other_offset],
                       cosine=float(side.cosine[i]))
        rows.append(row)
    return rows


def align_embeddings(sentences_a: Sequence[str], spans_a: Sequence[Span], emb_a: torch.Tensor,
                     sentences_b: Sequence[str], spans_b: Sequence[Span], emb_b: torch.Tensor) -> Alignment:
    """The alignment from both sides' unit-length sentence embeddings (rows in sentence order), in float32."""
    sim = (emb_a.float() @ emb_b.float().T).clamp(-1, 1).cpu().numpy() if len(emb_a) and len(emb_b) else \
        np.zeros((len(sentences_a), len(sentences_b)), dtype=np.float32)

    def side(sentences: Sequence[str], spans: Sequence[Span], matrix: np.ndarray) -> Side:
        if matrix.shape[1] == 0:
            return Side(list(sentences), list(spans), np.full(len(sentences), -1), np.zeros(len(sentences)))
        return Side(list(sentences), list(spans), matrix.argmax(axis=1), matrix.max(axis=1).astype(np.float64))

    return Alignment(side(sentences_a, spans_a, sim), side(sentences_b, spans_b, sim.T), sim)


def _sentences(text: str) -> tuple[list[str], list[Span]]:
    spans = split_spans(text)
    return [text[s:e] for s, e in spans], spans


def align(encoder: SentenceEncoder, text_a: str, text_b: str) -> Alignment:
    """The alignment of one paragraph pair (for notebooks): `align(enc, a, b).sef1` is the pair's SE-F1."""
    return explain(encoder, [text_a], [text_b])[1][0]


def explain(encoder: SentenceEncoder, a: Sequence[str], b: Sequence[str],
            progress: bool = False) -> tuple[np.ndarray, list[Alignment]]:
    """SE-F1 of each pair (a[i], b[i]) and its alignment; each distinct sentence of the input is embedded once.

    The scores come from `sef1_scores` over the same embeddings as the alignments, in the same order as
    `parasim.evaluation.scorers.sef1`, so they equal what `score.py` reports without `explain`.
    """
    split = [_sentences(text) for text in (*a, *b)]
    table: dict[str, int] = {}
    groups = [[table.setdefault(s, len(table)) for s in sentences] for sentences, _ in split]
    embeddings, _ = embed(encoder, list(table), progress="sentences" if progress else None)
    n = len(a)
    scores = []
    for start in range(0, n, PAIR_BLOCK):
        stop = min(start + PAIR_BLOCK, n)
        scores.append(sef1_scores(embeddings, pad_index(groups[start:stop]), pad_index(groups[n + start:n + stop])))
    alignments = []
    for i in range(n):
        (sa, pa), (sb, pb) = split[i], split[n + i]
        alignments.append(align_embeddings(sa, pa, embeddings[groups[i]], sb, pb, embeddings[groups[n + i]]))
    return (torch.cat(scores).numpy().astype(np.float64) if scores else np.zeros(0)), alignments
