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


def sef1(encoder: SentenceEncoder, a: Sequence[str], b: Sequence[str], progress: bool = False) -> np.ndarray:
    """SE-F1 per pair; each distinct sentence of the whole input is embedded once."""
    table: dict[str, int] = {}
    groups = [[table.setdefault(s, len(table)) for s in split_sentences(text)] for text in (*a, *b)]
    embeddings, _ = embed(encoder, list(table), progress="sentences" if progress else None)
    n = len(a)
    out = []
    for start in range(0, n, PAIR_BLOCK):
        stop = min(start + PAIR_BLOCK, n)
        a_index = pad_index(groups[start:stop])
        b_index = pad_index(groups[n + start : n + stop])
        out.append(sef1_scores(embeddings, a_index, b_index))
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)


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
    n = len(a)
    pa, pb = torch.as_tensor(positions[:n], dtype=torch.long), torch.as_tensor(positions[n:], dtype=torch.long)
    present = torch.as_tensor([bool(x.strip()) and bool(y.strip()) for x, y in zip(a, b, strict=True)])
    cosine = (embeddings[pa] * embeddings[pb]).sum(dim=-1).clamp(-1, 1) * present  # empty side: 0, as in SE-F1
    out = {"cosine": cosine.numpy().astype(np.float64)}
    if bertscore:
        out["bertscore"] = np.asarray([greedy_f1(states[i], states[j]) for i, j in zip(pa.tolist(), pb.tolist(),
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
