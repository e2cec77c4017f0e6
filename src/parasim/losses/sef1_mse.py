"""SEF1MSE, the seed's loss: the inner loss (MSE) between paragraph SE-F1 and the 0/1 paraphrase label.

Use it for paragraph pairs whose paraphrase relation is sentence by sentence (reordered, split, merged or
partly rewritten sentences): SE-F1 rewards each sentence for its best match on the other side, so one
matching sentence among unrelated ones scores low, and a reordered paraphrase scores as high as an aligned one.
"""

from __future__ import annotations

import torch

from parasim.losses.base import PairLoss
from parasim.models.batching import PairBatch
from parasim.models.sef1 import sef1_scores


class SEF1MSELoss(PairLoss):
    """Named `SEF1MSE` in model cards, as in the seed's run."""

    unit = "sentences"
    card_name = "SEF1MSE"
    card_description = "SE-F1 between paragraphs (sentence × sentence cosine matrix → precision, recall, F1)"
    score_name = "SE-F1"

    def score_embeddings(self, embeddings: torch.Tensor, features: PairBatch) -> torch.Tensor:
        return sef1_scores(embeddings, features.a_index, features.b_index)
