"""How sentences become encoder input: length-sorted, token-budgeted chunks, planned on the CPU.

The encoder owns this layout (its `planner`); the data loader calls the planner while it collates, so
a batch reaches the device with every index the forward needs (`EncoderInput`), and the model package
never depends on the data package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from parasim.models.packing import Packing, pack

BATCH_TOKENS = 8192  # padded tokens per encoder forward: bounds activation memory (≈ 1 GB for MPNet-base, fp32)
CPU_MIN_FILL = 0.95  # real / padded tokens a chunk keeps at least on a CPU (the padding-efficiency target)
CUDA_MIN_FILL = 0.0  # on a GPU each chunk costs kernel launches per layer: fill chunks up to the token budget

Chunk = tuple[torch.Tensor, torch.Tensor]  # right-padded token ids and attention mask, (rows, width)


def chunk_by_budget(token_lists: Sequence[Sequence[int]], budget: int, pad_id: int,
                    min_fill: float = CPU_MIN_FILL) -> tuple[list[Chunk], torch.Tensor, int]:
    """Sort sequences by length (longest first) and pack them into chunks of ≤ `budget` padded tokens.

    A chunk also closes before its real tokens would fall under `min_fill` of its padded size, so
    sentences of mixed length do not pay for the longest one's padding. Returns the chunks, the row
    of each input sequence in the concatenated chunk output, and the number of padded tokens
    processed. A sequence longer than the budget gets a chunk of its own.
    """
    order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]), reverse=True)
    rows = torch.empty(len(token_lists), dtype=torch.long)
    chunks: list[Chunk] = []
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


def group_by_budget(chunks: Sequence[Chunk], budget: int) -> list[list[Chunk]]:
    """Consecutive chunks of ≤ `budget` padded tokens in all: one forward each, so memory stays bounded."""
    groups: list[list[Chunk]] = []
    size = budget
    for chunk in chunks:
        if size + chunk[0].numel() > budget:
            groups.append([])
            size = 0
        groups[-1].append(chunk)
        size += chunk[0].numel()
    return groups


def pad_index(groups: Sequence[Sequence[int]]) -> torch.Tensor:
    """Ragged lists of row indices → (len(groups), max len) tensor padded with -1."""
    width = max((len(g) for g in groups), default=0)
    out = torch.full((len(groups), max(width, 1)), -1, dtype=torch.long)
    for i, group in enumerate(groups):
        if group:
            out[i, : len(group)] = torch.as_tensor(group, dtype=torch.long)
    return out


@dataclass
class EncoderInput:
    """One encoder forward: padded `chunks` for the architecture's own forward, or a `packing` for the packed one.

    Concatenating the chunk outputs gives one embedding per row (`rows` in all); `real_tokens` and
    `padded_tokens` measure the padding the layout costs.
    """

    chunks: list[Chunk]
    packing: Packing | None
    rows: int
    real_tokens: int = 0
    padded_tokens: int = 0

    def to(self, device: torch.device | str, non_blocking: bool = False) -> EncoderInput:
        chunks = [(ids.to(device, non_blocking=non_blocking), mask.to(device, non_blocking=non_blocking))
                  for ids, mask in self.chunks]
        packing = self.packing.to(device, non_blocking) if self.packing is not None else None
        return replace(self, chunks=chunks, packing=packing)

    def pin_memory(self) -> EncoderInput:
        packing = self.packing.pin_memory() if self.packing is not None else None
        return replace(self, chunks=[(ids.pin_memory(), mask.pin_memory()) for ids, mask in self.chunks],
                       packing=packing)


@dataclass
class PairBatch:
    """What a pair loss needs for one batch of paragraph pairs.

    `inputs` embeds the batch's distinct units (sentences or paragraphs) once each; `a_index`/`b_index`
    (pairs × max units, -1 = pad) point into those rows. `index` holds each pair's position in its split,
    so evaluation under DDP can drop the duplicates a distributed sampler pads with.
    """

    inputs: EncoderInput
    a_index: torch.Tensor
    b_index: torch.Tensor
    labels: torch.Tensor
    subsets: torch.Tensor
    index: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def real_tokens(self) -> int:
        return self.inputs.real_tokens

    @property
    def padded_tokens(self) -> int:
        return self.inputs.padded_tokens

    def to(self, device: torch.device | str, non_blocking: bool | None = None) -> PairBatch:
        """Lightning moves a batch with its `.to`; copies to a GPU are non-blocking (they overlap with compute
        when the batch is pinned) unless `non_blocking=False`."""
        device = torch.device(device)
        non_blocking = device.type == "cuda" if non_blocking is None else non_blocking
        return PairBatch(self.inputs.to(device, non_blocking), *(t.to(device, non_blocking=non_blocking) for t in
                         (self.a_index, self.b_index, self.labels, self.subsets, self.index)))

    def pin_memory(self) -> PairBatch:
        """Called by a DataLoader with `pin_memory=True`: page-locked memory makes the copies to a GPU asynchronous."""
        return PairBatch(self.inputs.pin_memory(), *(t.pin_memory() for t in
                         (self.a_index, self.b_index, self.labels, self.subsets, self.index)))


class Planner:
    """Lays token lists out for its encoder: chunked by `batch_tokens` and `min_fill`, packed when `packed`.

    `min_fill=None` follows the device the encoder is on (the encoder keeps `device_type` current):
    0.95 on a CPU, where padding costs almost linearly (the linear layers dominate), 0 on a GPU, where
    every chunk adds an attention call per layer and a batch of 4 pairs would otherwise take ≈ 11.
    (A plain class, not a dataclass: Hydra's `instantiate` would turn a dataclass argument into a config.)
    """

    def __init__(self, pad_id: int, batch_tokens: int = BATCH_TOKENS, min_fill: float | None = None,
                 packed: bool = True, device_type: str = "cpu") -> None:
        self.pad_id = pad_id
        self.batch_tokens = batch_tokens
        self.min_fill = min_fill
        self.packed = packed
        self.device_type = device_type

    @property
    def fill(self) -> float:
        if self.min_fill is not None:
            return float(self.min_fill)
        return CPU_MIN_FILL if self.device_type == "cpu" else CUDA_MIN_FILL

    def inputs(self, chunks: list[Chunk], rows: int, real: int) -> EncoderInput:
        padded = sum(ids.numel() for ids, _ in chunks)
        if self.packed:
            return EncoderInput([], pack(chunks), rows, real, padded)
        return EncoderInput(chunks, None, rows, real, padded)

    def __call__(self, token_lists: Sequence[Sequence[int]]) -> tuple[EncoderInput, torch.Tensor]:
        """One forward's input for all `token_lists`, and the output row of each list."""
        chunks, rows, _ = chunk_by_budget(token_lists, self.batch_tokens, self.pad_id, self.fill)
        return self.inputs(chunks, len(token_lists), sum(len(t) for t in token_lists)), rows

    def groups(self, token_lists: Sequence[Sequence[int]]) -> tuple[list[EncoderInput], torch.Tensor]:
        """Inputs of ≤ `batch_tokens` padded tokens each (inference over many texts), and each list's output row."""
        chunks, rows, _ = chunk_by_budget(token_lists, self.batch_tokens, self.pad_id, self.fill)
        out = []
        for group in group_by_budget(chunks, self.batch_tokens):
            out.append(self.inputs(group, sum(len(ids) for ids, _ in group), int(sum(m.sum() for _, m in group))))
        return out, rows
