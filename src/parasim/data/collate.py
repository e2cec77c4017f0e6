"""Batching: every distinct sentence of a batch encoded once, in length-sorted, token-budgeted chunks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from parasim.models.encoder import SentenceEncoder

MIN_FILL = 0.95  # real / padded tokens a chunk keeps at least (the padding-efficiency target)


@dataclass
class PairBatch:
    """What the model needs for one batch of paragraph pairs.

    `chunks` hold padded token ids of the batch's distinct sentences; concatenating the chunk
    embeddings gives one row per sentence, and `a_index`/`b_index` (pairs × max sentences, -1 = pad)
    point into those rows. `real_tokens`/`padded_tokens` measure padding efficiency.
    """

    chunks: list[tuple[torch.Tensor, torch.Tensor]]
    a_index: torch.Tensor
    b_index: torch.Tensor
    labels: torch.Tensor
    subsets: torch.Tensor
    real_tokens: int = 0
    padded_tokens: int = 0
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def chunk_by_budget(token_lists: Sequence[Sequence[int]], budget: int, pad_id: int,
                    min_fill: float = MIN_FILL) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor, int]:
    """Sort sequences by length (longest first) and pack them into chunks of ≤ `budget` padded tokens.

    A chunk also closes before its real tokens would fall under `min_fill` of its padded size, so
    sentences of mixed length do not pay for the longest one's padding. Returns the chunks, the row
    of each input sequence in the concatenated chunk output, and the number of padded tokens
    processed. A sequence longer than the budget gets a chunk of its own.
    """
    order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]), reverse=True)
    rows = torch.empty(len(token_lists), dtype=torch.long)
    chunks: list[tuple[torch.Tensor, torch.Tensor]] = []
    padded = 0
    start = 0
    while start < len(order):
        width = max(len(token_lists[order[start]]), 1)
        count, real = 1, len(token_lists[order[start]])
        while start + count < len(order) and (count + 1) * width <= budget:
            real += len(token_lists[order[start + count]])
            if real < min_fill * (count + 1) * width:
                break
            count += 1
        members = order[start : start + count]
        ids = torch.full((len(members), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(members), width), dtype=torch.long)
        for row, index in enumerate(members):
            tokens = token_lists[index]
            ids[row, : len(tokens)] = torch.as_tensor(tokens, dtype=torch.long)
            mask[row, : len(tokens)] = 1
            rows[index] = start + row
        chunks.append((ids, mask))
        padded += ids.numel()
        start += len(members)
    return chunks, rows, padded


def pad_index(groups: Sequence[Sequence[int]]) -> torch.Tensor:
    """Ragged lists of row indices → (len(groups), max len) tensor padded with -1."""
    width = max((len(g) for g in groups), default=0)
    out = torch.full((len(groups), max(width, 1)), -1, dtype=torch.long)
    for i, group in enumerate(groups):
        if group:
            out[i, : len(group)] = torch.as_tensor(group, dtype=torch.long)
    return out


class PairCollator:
    """Collate `(a_units, b_units, label, subset)` items that refer to a shared table of token lists."""

    def __init__(self, units: Sequence[Sequence[int]], pad_id: int, batch_tokens: int = 8192,
                 min_fill: float = MIN_FILL) -> None:
        self.units = units
        self.pad_id = pad_id
        self.batch_tokens = batch_tokens
        self.min_fill = min_fill

    def __call__(self, items: Sequence[tuple[Sequence[int], Sequence[int], float, int]]) -> PairBatch:
        local: dict[int, int] = {}
        for a_units, b_units, _, _ in items:
            for unit in (*a_units, *b_units):
                local.setdefault(int(unit), len(local))
        token_lists = [self.units[unit] for unit in local]
        chunks, rows, padded = chunk_by_budget(token_lists, self.batch_tokens, self.pad_id, self.min_fill)
        to_row = {unit: int(rows[pos]) for unit, pos in local.items()}
        return PairBatch(
            chunks=chunks,
            a_index=pad_index([[to_row[int(u)] for u in a] for a, _, _, _ in items]),
            b_index=pad_index([[to_row[int(u)] for u in b] for _, b, _, _ in items]),
            labels=torch.tensor([float(label) for _, _, label, _ in items], dtype=torch.float32),
            subsets=torch.tensor([int(subset) for _, _, _, subset in items], dtype=torch.long),
            real_tokens=sum(len(t) for t in token_lists),
            padded_tokens=padded,
        )


def encode_chunks(encoder: SentenceEncoder, chunks: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Concatenated unit-length embeddings of all chunks (rows in chunk order), in one packed forward."""
    return encoder.embed_chunks(list(chunks))


def encode_token_lists(encoder: SentenceEncoder, token_lists: Sequence[Sequence[int]],
                       batch_tokens: int = 8192) -> torch.Tensor:
    """Embeddings of `token_lists` in input order, computed in length-sorted chunks."""
    if not token_lists:
        return torch.empty(0, encoder.dim)
    device = next(encoder.parameters()).device
    chunks, rows, _ = chunk_by_budget(token_lists, batch_tokens, encoder.tokenizer.pad_token_id)
    chunks = [(ids.to(device), mask.to(device)) for ids, mask in chunks]
    embeddings = torch.cat([encode_chunks(encoder, group) for group in group_by_budget(chunks, batch_tokens)])
    return embeddings[rows.to(device)]


def group_by_budget(chunks: Sequence[tuple[torch.Tensor, torch.Tensor]],
                    budget: int) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    """Consecutive chunks of ≤ `budget` padded tokens in all: one packed forward each, so memory stays bounded."""
    groups: list[list[tuple[torch.Tensor, torch.Tensor]]] = []
    size = budget
    for chunk in chunks:
        if size + chunk[0].numel() > budget:
            groups.append([])
            size = 0
        groups[-1].append(chunk)
        size += chunk[0].numel()
    return groups
