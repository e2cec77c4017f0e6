"""Baseline: MSE between the cosine of whole-paragraph embeddings and the label.

This is sentence-transformers' CosineSimilarityLoss. Use it to ask whether SE-F1 is worth it on your data
(`-m loss=sef1_mse,cosine_mse`), or for short texts that are one sentence anyway: one forward per paragraph,
but a paragraph longer than the 384-token cap loses its tail.
"""

from __future__ import annotations

import torch

from parasim.losses.base import PairLoss
from parasim.models.batching import PairBatch
from parasim.models.sef1 import paragraph_cosine


class CosineMSELoss(PairLoss):
    """Named `CosineSimilarityLoss` in model cards, as sentence-transformers names it."""

    unit = "paragraphs"
    card_name = "CosineSimilarityLoss"
    card_description = "Cosine similarity of the two paragraphs' mean-pooled embeddings"
    score_name = "paragraph cosine"

    def score_embeddings(self, embeddings: torch.Tensor, features: PairBatch) -> torch.Tensor:
        return paragraph_cosine(embeddings, features.a_index, features.b_index)
