"""How token states become one sentence embedding: sentence-transformers' Pooling (mean or CLS) and Normalize.

A sentence-transformers model says both in its own files (`1_Pooling/config.json`, `modules.json`;
read by `parasim.models.st_config`); the export writes them back from the same `Pooling`, so a model
round-trips. Mean pooling averages the token states the attention mask keeps (all-mpnet-base-v2,
all-MiniLM-L6-v2); CLS pooling takes the first token's state (e.g. BGE, GTE-style checkpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from parasim.errors import ParasimError
from parasim.models.packing import Packing

MODES = ("mean", "cls")
# sentence-transformers' legacy boolean keys (read by versions 2 to 6); a config may instead hold `pooling_mode`
MODE_KEYS = {
    "cls": "pooling_mode_cls_token",
    "mean": "pooling_mode_mean_tokens",
    "max": "pooling_mode_max_tokens",
    "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
    "weightedmean": "pooling_mode_weightedmean_tokens",
    "lasttoken": "pooling_mode_lasttoken",
}


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token states the mask keeps, as sentence-transformers' Pooling does."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def packed_mean_pool(hidden: torch.Tensor, packing: Packing) -> torch.Tensor:
    """Mean of each row's real token states: sentence-transformers' mean pooling without the padding."""
    sums = hidden.new_zeros(packing.lengths.numel(), hidden.shape[-1]).index_add_(0, packing.sequence, hidden)
    return sums / packing.lengths.clamp(min=1).unsqueeze(1).to(hidden.dtype)


def packed_first_token(hidden: torch.Tensor, packing: Packing) -> torch.Tensor:
    """Each row's first real token (tokens are packed row after row), without a host sync."""
    return hidden.index_select(0, packing.lengths.cumsum(0) - packing.lengths)


@dataclass(frozen=True)
class Pooling:
    """`mode` (mean or cls) over the last hidden states, then L2 normalisation when `normalize`."""

    mode: str = "mean"
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ParasimError(f"Pooling mode {self.mode!r} is not supported; parasim pools with {', '.join(MODES)}.")

    def __call__(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pooled (not normalised) embeddings of right-padded rows."""
        return mean_pool(hidden, attention_mask) if self.mode == "mean" else hidden[:, 0]

    def packed(self, hidden: torch.Tensor, packing: Packing) -> torch.Tensor:
        """Pooled (not normalised) embeddings of packed rows (`parasim.models.packed`)."""
        return packed_mean_pool(hidden, packing) if self.mode == "mean" else packed_first_token(hidden, packing)

    def st_config(self, dim: int) -> dict[str, Any]:
        """`1_Pooling/config.json` in the legacy boolean layout, which sentence-transformers 2 to 6 all load."""
        return {"word_embedding_dimension": dim, **{key: mode == self.mode for mode, key in MODE_KEYS.items()},
                "include_prompt": True}

    @classmethod
    def from_st_config(cls, config: dict[str, Any], normalize: bool, source: str) -> Pooling:
        """The pooling a `1_Pooling/config.json` describes (old boolean keys or sentence-transformers 6's
        `pooling_mode`); `source` names the file in errors."""
        modes = config.get("pooling_mode")
        if modes is None:
            modes = [mode for mode, key in MODE_KEYS.items() if config.get(key)]
        modes = [modes] if isinstance(modes, str) else list(modes)
        if len(modes) != 1 or modes[0] not in MODES:
            raise ParasimError(f"{source}: pooling {modes or 'none'} is not supported; parasim pools with one of "
                               f"{', '.join(MODES)}.")
        return cls(modes[0], normalize)

    def describe(self) -> str:
        """The Pooling line of the model card's architecture block, as sentence-transformers prints it."""
        return f"'pooling_mode_{'mean_tokens' if self.mode == 'mean' else 'cls_token'}': True"
