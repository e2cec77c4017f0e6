"""The loss interface, shaped like sentence-transformers' losses: built with the model, `forward(features, labels)`."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from torch import nn

from parasim.models.batching import PairBatch
from parasim.models.encoder import SentenceEncoder


class PairLoss(nn.Module):
    """Encodes a batch's units, scores each pair, and compares scores with labels via `inner`.

    A loss declares what the data layer embeds (`unit`: `sentences` or whole `paragraphs`), and how the model
    card names it (`card_name`, `card_description`) and its score (`score_name`).
    """

    unit: ClassVar[Literal["sentences", "paragraphs"]]
    card_name: ClassVar[str]
    card_description: ClassVar[str]
    score_name: ClassVar[str]

    def __init__(self, encoder: SentenceEncoder, inner: nn.Module | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.inner = inner if inner is not None else nn.MSELoss()

    def score_embeddings(self, embeddings: torch.Tensor, features: PairBatch) -> torch.Tensor:
        raise NotImplementedError

    def score(self, features: PairBatch) -> torch.Tensor:
        """One score in [0, 1] per pair, computed in float32 whatever the training precision."""
        return self.score_embeddings(self.encoder.embed_chunks(features.inputs), features)

    def forward(self, features: PairBatch, labels: torch.Tensor) -> torch.Tensor:
        return self.inner(self.score(features), labels.float())

    def get_config_dict(self) -> dict[str, Any]:
        """Shown in the model card, as sentence-transformers does."""
        return {"inner": type(self.inner).__name__, "unit": self.unit}
