"""Baseline: MSE between the cosine of whole-paragraph embeddings and the label.

This is sentence-transformers' CosineSimilarityLoss, so sweeps can ask whether SE-F1 is worth it.
"""

from __future__ import annotations

import torch

from parasim.losses.base import PairLoss
from parasim.models.batching import PairBatch
from parasim.models.sef1 import paragraph_cosine


class CosineMSELoss(PairLoss):
    unit = "paragraphs"
    card_name = "CosineSimilarityLoss"

    def score_embeddings(self, embeddings: torch.Tensor, features: PairBatch) -> torch.Tensor:
        return paragraph_cosine(embeddings, features.a_index, features.b_index)
