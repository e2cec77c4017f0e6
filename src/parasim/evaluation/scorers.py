"""Paragraph-pair scorers computed from raw texts: SE-F1, paragraph cosine, BERTScore F1 and BLEU.

SE-F1 and cosine are the fast scoring path (`scripts/score.py` uses it too): every distinct sentence
or paragraph is embedded once without gradients. BERTScore uses the same encoder's last-layer token
states with greedy matching (no idf weighting, no baseline rescaling), so the comparison isolates the
scoring rule, not the model. BLEU (sacrebleu, smoothed sentence BLEU) is averaged over both directions
because a paraphrase pair has no reference side.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sacrebleu.metrics import BLEU

from parasim.data.splitter import split_sentences
from parasim.errors import ParasimError
from parasim.evaluation.embedding import distinct, embed
from parasim.models.batching import pad_index
from parasim.models.encoder import SentenceEncoder
from parasim.models.sef1 import EPS, sef1_scores

SCORERS = ("sef1", "cosine", "bertscore", "bleu")
TITLES = {"sef1": "SE-F1", "cosine": "paragraph cosine", "bertscore": "BERTScore F1", "bleu": "BLEU"}
PAIR_BLOCK = 4096  # pairs per batched SE-F1 call, bounds the (pairs × n × m) similarity tensor


def sentence_groups(texts: Sequence[str], table: dict[str, int]) -> list[list[int]]:
    """Each text's sentences as rows of `table` (distinct sentence → row, grown in place)."""
    return [[table.setdefault(s, len(table)) for s in split_sentences(text)] for text in texts]


def sef1_of_groups(embeddings: torch.Tensor, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """SE-F1 of pair i = (groups[i], groups[n + i]): the first half of `groups` is side A, the second side B."""
    n = len(groups) // 2
    out = []
    for start in range(0, n, PAIR_BLOCK):
        stop = min(start + PAIR_BLOCK, n)
        out.append(sef1_scores(embeddings, pad_index(groups[start:stop]), pad_index(groups[n + start : n + stop])))
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)


def cosine_of_rows(embeddings: torch.Tensor, rows: Sequence[int], texts: Sequence[str]) -> np.ndarray:
    """Cosine of pair i = (rows[i], rows[n + i]) of unit-length `embeddings`; a pair with an empty side scores 0,
    as in SE-F1. `texts` are the rows' texts, in the same order."""
    n = len(rows) // 2
    index = torch.as_tensor(list(rows), dtype=torch.long)
    present = torch.as_tensor([bool(x.strip()) and bool(y.strip()) for x, y in zip(texts[:n], texts[n:], strict=True)])
    cosine = (embeddings[index[:n]] * embeddings[index[n:]]).sum(dim=-1).clamp(-1, 1) * present
    return cosine.numpy().astype(np.float64)


def sef1(encoder: SentenceEncoder, a: Sequence[str], b: Sequence[str], progress: bool = False) -> np.ndarray:
    """SE-F1 per pair; each distinct sentence of the whole input is embedded once."""
    table: dict[str, int] = {}
    groups = sentence_groups([*a, *b], table)
    embeddings, _ = embed(encoder, list(table), progress="sentences" if progress else None)
    return sef1_of_groups(embeddings, groups)


def greedy_f1(a: torch.Tensor, b: torch.Tensor) -> float:
    """BERTScore's greedy matching of unit-length token vectors: F1 of mean best-match similarities."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    sim = a @ b.T
    recall = float(sim.max(dim=1).values.mean())
    precision = float(sim.max(dim=0).values.mean())
    return 2 * precision * recall / (precision + recall + EPS)


def paragraph_scorers(encoder: SentenceEncoder, a: Sequence[str], b: Sequence[str], bertscore: bool,
                      progress: bool = False) -> dict[str, np.ndarray]:
    """Cosine of whole-paragraph embeddings and (optionally) BERTScore F1, from one forward per paragraph."""
    texts, positions = distinct([*a, *b])
    embeddings, states = embed(encoder, texts, token_states=bertscore,
                               progress="paragraphs" if progress else None)
    out = {"cosine": cosine_of_rows(embeddings, positions, [*a, *b])}
    if bertscore:
        n = len(a)
        out["bertscore"] = np.asarray([greedy_f1(states[i], states[j]) for i, j in zip(positions[:n], positions[n:],
                                                                                      strict=True)])
    return out


def bleu(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """Symmetric smoothed sentence BLEU in [0, 1]."""
    metric = BLEU(effective_order=True)
    return np.asarray([(metric.sentence_score(y, [x]).score + metric.sentence_score(x, [y]).score) / 200
                       for x, y in zip(a, b, strict=True)])


def score_texts(encoder: SentenceEncoder, a: Sequence[str], b: Sequence[str], names: Sequence[str] = SCORERS,
                progress: bool = False) -> dict[str, np.ndarray]:
    """The requested scorers for the pairs (a[i], b[i]), each an array in input order."""
    unknown = set(names) - set(SCORERS)
    if unknown:
        raise ParasimError(f"Unknown scorer(s) {sorted(unknown)}; known: {', '.join(SCORERS)}")
    out: dict[str, np.ndarray] = {}
    if "sef1" in names:
        out["sef1"] = sef1(encoder, a, b, progress)
    if "cosine" in names or "bertscore" in names:
        out.update(paragraph_scorers(encoder, a, b, "bertscore" in names, progress))
    if "bleu" in names:
        out["bleu"] = bleu(a, b)
    return {name: out[name] for name in names}
