"""Batched, differentiable SE-F1 over a batch of paragraph pairs (definition in the shared spec).

Scores are computed in float32 whatever the training precision: under autocast the `bmm` of unit vectors
would run in fp16/bf16, whose spacing near 1 is ≈ 5e-4 / 4e-3, so cosines of close paraphrases would
collapse onto a few values and tie in val/test rankings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

EPS = 1e-10
_BELOW_COSINE = -2.0  # below any cosine; clamped to 0 like the spec's max(0, ·)


def _gather(embeddings: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of `embeddings` at `index` (padding, -1, reads row 0 and is masked by the caller)."""
    if embeddings.shape[0] == 0:  # every paragraph of the batch is empty: one zero row to read, kept in the graph
        embeddings = torch.cat([embeddings, embeddings.new_zeros(1, embeddings.shape[1])])
    return embeddings.float()[index.clamp(min=0)], index >= 0


def float32(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Run `fn` with autocast off on the embeddings' device, so every op computes in float32."""

    @functools.wraps(fn)
    def wrapper(embeddings: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=embeddings.device.type, enabled=False):
            return fn(embeddings, *args)

    return wrapper


@float32
def sef1_scores(embeddings: torch.Tensor, a_index: torch.Tensor, b_index: torch.Tensor) -> torch.Tensor:
    """F1 per pair from sentence embeddings.

    `embeddings` holds one unit-length row per sentence; `a_index` (pairs × n) and `b_index`
    (pairs × m) list each paragraph's sentence rows, -1 for padding. S = E_A·E_Bᵀ per pair;
    precision averages max(0, column max) over B's sentences, recall max(0, row max) over A's.
    A paragraph without sentences gives F1 = 0 (a graph node, no NaN).
    """
    emb_a, valid_a = _gather(embeddings, a_index)
    emb_b, valid_b = _gather(embeddings, b_index)
    sim = torch.bmm(emb_a, emb_b.transpose(1, 2))
    pair_valid = valid_a.unsqueeze(2) & valid_b.unsqueeze(1)
    sim = sim.masked_fill(~pair_valid, _BELOW_COSINE)
    # clamp(max=1): unit vectors' dot products overshoot 1 by rounding, and F1 must stay in [0, 1]
    best_for_b = sim.max(dim=1).values.clamp(0, 1) * valid_b
    best_for_a = sim.max(dim=2).values.clamp(0, 1) * valid_a
    precision = best_for_b.sum(dim=1) / valid_b.sum(dim=1).clamp(min=1)
    recall = best_for_a.sum(dim=1) / valid_a.sum(dim=1).clamp(min=1)
    return 2 * precision * recall / (precision + recall + EPS)


@float32
def paragraph_cosine(embeddings: torch.Tensor, a_index: torch.Tensor, b_index: torch.Tensor) -> torch.Tensor:
    """Cosine of the first unit of each side: the paragraph embeddings when units are paragraphs.

    An empty paragraph has no unit (index -1) and scores 0, as under SE-F1, so two empty texts are not
    "identical paraphrases" with cosine 1.
    """
    if a_index.shape[1] == 0 or b_index.shape[1] == 0:
        return embeddings.new_zeros(a_index.shape[0], dtype=torch.float32)
    emb_a, valid_a = _gather(embeddings, a_index[:, 0])
    emb_b, valid_b = _gather(embeddings, b_index[:, 0])
    return (emb_a * emb_b).sum(dim=-1).clamp(-1, 1) * (valid_a & valid_b)
