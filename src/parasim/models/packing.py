"""Where every real token of a batch sits, computed once on the CPU when the batch is collated.

The packed forward (`parasim.models.packed`) needs, per batch, the real token ids, their positions,
the row each token pools into, and the gather/scatter indices between the flat token matrix and the
chunks' padded attention layouts. Computing them from padded chunks takes boolean indexing,
`nonzero`, `cumsum` and `repeat_interleave`: on a GPU each of those waits for the device (about 45
host syncs per step of 4 pairs at 11 chunks). Built here, on the CPU side of the data loader, they
travel with the batch as a handful of index tensors (pinned, copied asynchronously), and the forward
only gathers and scatters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import torch

POSITION_OFFSET = 2  # MPNet numbers real tokens from padding_idx + 1 = 2 (fairseq convention)


@dataclass
class Packing:
    """Index plan of one packed forward; every tensor is built on the CPU, then moved with the batch."""

    ids: torch.Tensor  # (tokens,) real token ids, chunk by chunk, row by row
    positions: torch.Tensor  # (tokens,) position ids as MPNet numbers them
    sequence: torch.Tensor  # (tokens,) row of each token in the concatenated chunk outputs
    lengths: torch.Tensor  # (rows,) real tokens per row
    masks: list[torch.Tensor | None]  # per chunk (rows, width) bool, True = real token; None = no padding
    shapes: list[tuple[int, int]]  # per chunk (rows, width)
    gather: torch.Tensor  # (slots,) token that fills each slot of the chunks' padded layouts, chunk after chunk
    scatter: torch.Tensor  # (tokens,) slot of each real token in those layouts

    @property
    def rows(self) -> int:
        return sum(rows for rows, _ in self.shapes)

    def _map(self, fn) -> Packing:
        moved = {f.name: fn(getattr(self, f.name)) for f in fields(self) if f.name not in ("masks", "shapes")}
        return replace(self, **moved, masks=[None if m is None else fn(m) for m in self.masks])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Packing:
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> Packing:
        return self._map(lambda t: t.pin_memory())


def pack(chunks: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> Packing:
    """The plan for right-padded (ids, attention_mask) chunks, on the CPU.

    A padding slot is filled with the real token before it: its key is masked out and its query's
    output is dropped, so any finite value serves, and its gradient is exactly zero.
    """
    ids, positions, lengths, masks, shapes, gather, scatter = [], [], [], [], [], [], []
    tokens = slots = 0
    for chunk_ids, chunk_mask in chunks:
        mask = chunk_mask.cpu().bool()
        flat = mask.reshape(-1)
        ids.append(chunk_ids.cpu()[mask])
        positions.append((mask.cumsum(dim=1) - 1 + POSITION_OFFSET)[mask])
        lengths.append(mask.sum(dim=1))
        masks.append(None if bool(mask.all()) else mask)
        shapes.append((int(mask.shape[0]), int(mask.shape[1])))
        gather.append((flat.cumsum(0) - 1).clamp(min=0) + tokens)
        scatter.append(flat.nonzero().squeeze(1) + slots)
        tokens += int(ids[-1].numel())
        slots += flat.numel()
    if not chunks:
        empty = torch.zeros(0, dtype=torch.long)
        return Packing(empty, empty, empty, empty, [], [], empty, empty)
    length = torch.cat(lengths)
    sequence = torch.repeat_interleave(torch.arange(length.numel()), length)
    return Packing(torch.cat(ids), torch.cat(positions), sequence, length, masks, shapes, torch.cat(gather),
                   torch.cat(scatter))
