"""Re-ranking candidate pairs by SE-F1 from cached sentence vectors, and the alignment behind each kept pair."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from parasim.evidence.alignment import Alignment, align_embeddings
from parasim.mining.candidates import Side
from parasim.mining.documents import Collection
from parasim.models.sef1 import sef1_scores

PAIR_BLOCK = 4096  # pairs per batched SE-F1 call


def _rows(ptr: np.ndarray, paragraphs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sentence rows of `paragraphs` flattened, their count per paragraph, and each paragraph's first flat row."""
    lengths = ptr[paragraphs + 1] - ptr[paragraphs]
    offsets = np.r_[0, np.cumsum(lengths)[:-1]]
    flat = np.repeat(ptr[paragraphs] - offsets, lengths) + np.arange(lengths.sum())
    return flat, lengths, offsets


def _index(lengths: np.ndarray, offsets: np.ndarray, base: int) -> torch.Tensor:
    width = max(int(lengths.max()) if len(lengths) else 0, 1)
    columns = np.arange(width)[None, :]
    index = np.where(columns < lengths[:, None], base + offsets[:, None] + columns, -1)
    return torch.from_numpy(index.astype(np.int64))


def sef1_pairs(query: Side, source: Side, q: np.ndarray, s: np.ndarray, progress: bool = False) -> np.ndarray:
    """SE-F1 of each candidate pair (query paragraph q[i], source paragraph s[i]), in float32 as everywhere."""
    out = np.zeros(len(q), dtype=np.float64)
    with tqdm(total=len(q), desc="re-rank: SE-F1", unit="pair", disable=not progress) as bar:
        for start in range(0, len(q), PAIR_BLOCK):
            qs, ss = q[start:start + PAIR_BLOCK], s[start:start + PAIR_BLOCK]
            flat_a, len_a, off_a = _rows(query.sentence_ptr, qs)
            flat_b, len_b, off_b = _rows(source.sentence_ptr, ss)
            embeddings = torch.from_numpy(np.concatenate([query.sentences[flat_a], source.sentences[flat_b]]))
            scores = sef1_scores(embeddings, _index(len_a, off_a, 0), _index(len_b, off_b, len(flat_a)))
            out[start:start + len(qs)] = scores.numpy()
            bar.update(len(qs))
    return out


def paragraph_cosine(query: Side, source: Side, q: np.ndarray, s: np.ndarray) -> np.ndarray:
    return np.clip(np.einsum("ij,ij->i", query.paragraphs[q], source.paragraphs[s]), -1.0, 1.0).astype(np.float64)


def alignment(query: Side, source: Side, queries: Collection, sources: Collection, q: int, s: int) -> Alignment:
    """The alignment of one pair, spans relative to each paragraph."""
    rows_a = slice(query.sentence_ptr[q], query.sentence_ptr[q + 1])
    rows_b = slice(source.sentence_ptr[s], source.sentence_ptr[s + 1])
    return align_embeddings(queries.sentences(q), queries.sentence_spans_in_paragraph(q),
                            torch.from_numpy(query.sentences[rows_a]), sources.sentences(s),
                            sources.sentence_spans_in_paragraph(s), torch.from_numpy(source.sentences[rows_b]))
