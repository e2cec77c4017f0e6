"""SEF1MSE: the seed's loss, inner loss (MSE) between paragraph SE-F1 and the label."""

from __future__ import annotations

import torch

from parasim.losses.base import PairLoss
from parasim.models.batching import PairBatch
from parasim.models.sef1 import sef1_scores


class SEF1MSELoss(PairLoss):
    """Named `SEF1MSE` in model cards, as in the seed's run."""

    unit = "sentences"
    card_name = "SEF1MSE"

    def score_embeddings(self, embeddings: torch.Tensor, features: PairBatch) -> torch.Tensor:
        return sef1_scores(embeddings, features.a_index, features.b_index)
