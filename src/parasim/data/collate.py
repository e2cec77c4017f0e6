"""Batching: every distinct unit of a batch embedded once, laid out by the encoder's planner while collating."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from parasim.models.batching import PairBatch, Planner, pad_index

Item = tuple[Sequence[int], Sequence[int], float, int, int]  # a units, b units, label, subset id, position in split


class PairCollator:
    """Collate `(a_units, b_units, label, subset, index)` items that refer to a shared table of token lists.

    The planner (the encoder's) chunks and, for the packed forward, computes every token index here, on
    the CPU side of the data loader, so the training step makes no host sync to find them.
    """

    def __init__(self, units: Sequence[Sequence[int]], planner: Planner) -> None:
        self.units = units
        self.planner = planner

    def __call__(self, items: Sequence[Item]) -> PairBatch:
        local: dict[int, int] = {}
        for a_units, b_units, *_ in items:
            for unit in (*a_units, *b_units):
                local.setdefault(int(unit), len(local))
        inputs, rows = self.planner([self.units[unit] for unit in local])
        to_row = {unit: int(rows[pos]) for unit, pos in local.items()}
        return PairBatch(
            inputs=inputs,
            a_index=pad_index([[to_row[int(u)] for u in item[0]] for item in items]),
            b_index=pad_index([[to_row[int(u)] for u in item[1]] for item in items]),
            labels=torch.tensor([float(item[2]) for item in items], dtype=torch.float32),
            subsets=torch.tensor([int(item[3]) for item in items], dtype=torch.long),
            index=torch.tensor([int(item[4]) for item in items], dtype=torch.long),
        )
