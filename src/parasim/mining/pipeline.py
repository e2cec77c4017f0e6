"""Mining end to end: read → embed what the cache lacks → index → candidates → SE-F1 re-rank → calibrate → rows.

Each phase is timed (`Mined.timings`, seconds) and counted, which `mine_summary.json` and the benchmark report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.utilities import rank_zero_only

from parasim.evaluation.calibration import Calibrator
from parasim.evidence.report import ReportPair
from parasim.mining import candidates as cand
from parasim.mining.cache import EmbeddingCache, text_keys
from parasim.mining.documents import Collection
from parasim.mining.embedder import ShardWriter, embed_missing
from parasim.mining.index import build_index
from parasim.mining.rerank import alignment, paragraph_cosine, sef1_pairs
from parasim.models.encoder import SentenceEncoder

log = logging.getLogger(__name__)


@dataclass
class Keys:
    paragraphs: np.ndarray
    sentences: np.ndarray


@dataclass
class Mined:
    """Candidate pairs re-ranked (highest SE-F1 first) with what each phase cost."""

    queries: Collection
    sources: Collection
    query: cand.Side
    source: cand.Side
    q: np.ndarray
    s: np.ndarray
    routes: dict[str, np.ndarray]
    sef1: np.ndarray
    cosine: np.ndarray
    probability: np.ndarray | None
    decision: np.ndarray | None
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.q)


class Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - start


def keys_of(collection: Collection) -> Keys:
    return Keys(text_keys(collection.paragraph_texts()), text_keys(collection.sentence_texts()))


def embed_all(encoder: SentenceEncoder, collections: list[Collection], keys: list[Keys], cache: EmbeddingCache,
              trainer: L.Trainer, writer: ShardWriter, batch_tokens: int) -> tuple[int, int]:
    """Embed every distinct paragraph and sentence the cache lacks, in one predict run; returns how many texts,
    and how many of them are paragraphs."""
    texts: list[str] = []
    all_keys = []
    for collection, k in zip(collections, keys, strict=True):
        missing = np.isin(k.paragraphs, cache.missing(k.paragraphs))
        texts += [collection.paragraph_text(p) for p in np.flatnonzero(missing).tolist()]
        all_keys.append(k.paragraphs[missing])
        missing = np.isin(k.sentences, cache.missing(k.sentences))
        sentence_texts = collection.sentence_texts() if missing.any() else []
        texts += [sentence_texts[i] for i in np.flatnonzero(missing).tolist()]
        all_keys.append(k.sentences[missing])
    flat = np.concatenate(all_keys) if all_keys else np.zeros(0, np.uint64)
    paragraphs = len(np.unique(np.concatenate(all_keys[0::2])))
    return embed_missing(encoder, texts, flat, cache, trainer, writer, batch_tokens), paragraphs


def side(collection: Collection, keys: Keys, cache: EmbeddingCache) -> cand.Side:
    return cand.Side(cache.get(keys.paragraphs), cache.get(keys.sentences), collection.sentence_ptr,
                     collection.paragraph_doc)


def mine(encoder: SentenceEncoder, queries: Collection, sources: Collection | None, model_key: str,
         make_trainer: Callable[[list[L.Callback]], L.Trainer], cfg: Mapping[str, Any],
         calibrator: Calibrator | None = None, decision_threshold: float | None = None,
         progress: bool = True) -> Mined | None:
    """Mine `queries` against `sources` (None: against itself). None on a DDP rank other than 0 (embedding only).

    The cache is keyed by `model_key` and the trainer's precision: bf16 and fp32 embeddings differ by ≈ 1e-2.
    """
    timer = Timer()
    writer = ShardWriter()
    trainer = make_trainer([writer])
    cache = EmbeddingCache(cfg["cache"]["dir"], f"{model_key}-{trainer.precision}", encoder.dim)
    self_pairs = sources is None
    sources = queries if sources is None else sources
    with timer("fingerprint"):
        query_keys = keys_of(queries)
        source_keys = query_keys if self_pairs else keys_of(sources)
    with timer("embed"):
        embedded, embedded_paragraphs = embed_all(encoder, [queries] if self_pairs else [queries, sources],
                             [query_keys] if self_pairs else [query_keys, source_keys], cache, trainer, writer,
                             int(cfg["cache"]["batch_tokens"]))
    if trainer.global_rank != 0 or rank_zero_only.rank != 0:  # the env's rank also when nothing was embedded
        return None
    with timer("load vectors"):
        query = side(queries, query_keys, cache)
        source = query if self_pairs else side(sources, source_keys, cache)
    index_cfg, cand_cfg = cfg["index"], cfg["candidates"]
    options = {k: index_cfg[k] for k in ("kind", "exact_max", "hnsw_m", "ef_search", "nlist", "nprobe", "pq_bytes")}
    with timer("index"):
        paragraph_index = build_index(source.paragraphs, **options)
        first, ptr, owners = cand.sentence_occurrences(source_keys.sentences, source.sentence_ptr)
        sentence_index = cand.SentenceIndex(build_index(source.sentences[first], **options), ptr, owners)
    k, same_document = int(cand_cfg["k"]), bool(cfg["same_document"])
    with timer("candidates"):
        routes = {
            "paragraph": cand.by_paragraph(paragraph_index, query, source, k, int(cand_cfg["overfetch"]), self_pairs,
                                           same_document, progress),
            "sentence": cand.by_sentence(sentence_index, query, source, k, int(cand_cfg["sentence_k"]),
                                         int(cand_cfg["max_sentence_paragraphs"]), self_pairs, same_document,
                                         progress),
        }
        q, s, flags = cand.merge(routes, self_pairs)
    with timer("rerank"):
        scores = sef1_pairs(query, source, q, s, progress)
        cosine = paragraph_cosine(query, source, q, s)
        order = np.lexsort((s, q, -scores))
        q, s, scores, cosine = q[order], s[order], scores[order], cosine[order]
        flags = {name: flag[order] for name, flag in flags.items()}
    probability = calibrator(scores) if calibrator is not None else None
    decision = scores >= decision_threshold if decision_threshold is not None else None
    counts = {"query_documents": len(queries.documents), "query_paragraphs": len(queries),
              "query_sentences": len(query_keys.sentences), "source_documents": len(sources.documents),
              "source_paragraphs": len(sources), "source_sentences": len(source_keys.sentences),
              "embedded_texts": embedded, "embedded_paragraphs": embedded_paragraphs, "cached_texts": len(cache),
              "distinct_source_sentences": len(first), "candidates": len(q),
              **{f"candidates_by_{name}": int(len(route[0])) for name, route in routes.items()}}
    log.info("mined %d candidate pairs (%s)", len(q), ", ".join(f"{k} {v}" for k, v in counts.items()))
    return Mined(queries, sources, query, source, q, s, flags, scores, cosine, probability, decision, timer.timings,
                 counts)


def paragraph_numbers(collection: Collection) -> np.ndarray:
    """Each paragraph's position within its document (0-based)."""
    starts = np.r_[0, np.flatnonzero(np.diff(collection.paragraph_doc)) + 1]
    return np.arange(len(collection)) - np.repeat(starts, np.diff(np.r_[starts, len(collection)]))


def rows(mined: Mined, min_sef1: float = 0.0, texts: bool = True, with_alignment: bool = True,
         limit: int | None = None) -> list[dict[str, Any]]:
    """Output rows, best first: both paragraphs (document, number, span), scores, routes, and the alignment
    with its spans in document coordinates."""
    numbers_q, numbers_s = paragraph_numbers(mined.queries), paragraph_numbers(mined.sources)
    out = []
    for i in range(len(mined)):
        if mined.sef1[i] < min_sef1 or (limit is not None and len(out) >= limit):
            break
        q, s = int(mined.q[i]), int(mined.s[i])
        span_q, span_s = mined.queries.paragraph_spans[q].tolist(), mined.sources.paragraph_spans[s].tolist()
        row: dict[str, Any] = {
            "rank": i + 1, "query_doc": mined.queries.documents[mined.queries.paragraph_doc[q]].id,
            "query_paragraph": int(numbers_q[q]), "query_span": span_q,
            "source_doc": mined.sources.documents[mined.sources.paragraph_doc[s]].id,
            "source_paragraph": int(numbers_s[s]), "source_span": span_s, "sef1": float(mined.sef1[i]),
            "probability": None if mined.probability is None else float(mined.probability[i]),
            "paraphrase": None if mined.decision is None else bool(mined.decision[i]),
            "paragraph_cosine": float(mined.cosine[i]), "via": [n for n, f in mined.routes.items() if f[i]]}
        if texts:
            row["query_text"], row["source_text"] = mined.queries.paragraph_text(q), mined.sources.paragraph_text(s)
        if with_alignment:
            row["alignment"] = alignment(mined.query, mined.source, mined.queries, mined.sources, q,
                                         s).to_dict(span_q[0], span_s[0])
        out.append(row)
    return out


def report_pairs(mined: Mined, top: int) -> list[ReportPair]:
    """The `top` best pairs for the HTML report (spans there are relative to each paragraph)."""
    numbers_q, numbers_s = paragraph_numbers(mined.queries), paragraph_numbers(mined.sources)
    pairs = []
    for i in range(min(top, len(mined))):
        q, s = int(mined.q[i]), int(mined.s[i])
        doc_q = mined.queries.documents[mined.queries.paragraph_doc[q]].id
        doc_s = mined.sources.documents[mined.sources.paragraph_doc[s]].id
        pairs.append(ReportPair(
            f"{doc_q} ¶{numbers_q[q] + 1} ↔ {doc_s} ¶{numbers_s[s] + 1}", mined.queries.paragraph_text(q),
            mined.sources.paragraph_text(s), alignment(mined.query, mined.source, mined.queries, mined.sources, q, s),
            float(mined.sef1[i]), None if mined.probability is None else float(mined.probability[i]),
            None if mined.decision is None else bool(mined.decision[i]),
            {"rank": i + 1, "query span": mined.queries.paragraph_spans[q].tolist(),
             "source span": mined.sources.paragraph_spans[s].tolist(),
             "paragraph cosine": round(float(mined.cosine[i]), 4),
             "via": "+".join(n for n, f in mined.routes.items() if f[i])}))
    return pairs
