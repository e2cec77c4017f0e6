"""What a checkpoint needs beyond Lightning's own state to resume bit for bit: RNG states and the W&B run id.

Lightning restores weights, optimizer, schedulers, loop progress and (through `ResumableLoader`) the
position in the epoch, but not the random generators that dropout draws from, nor which W&B run the
job logged to.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from parasim.tracking import run_id

KEY = "parasim"


def rng_states() -> dict[str, Any]:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def stored_wandb_run_id(ckpt_path: str | Path) -> str | None:
    """The W&B run id saved in a checkpoint (memory-mapped: the weights are not read)."""
    checkpoint = torch.load(ckpt_path, map_location="cpu", mmap=True, weights_only=False)
    return checkpoint.get(KEY, {}).get("wandb_run_id")


class ResumeState(L.Callback):
    """Saves RNG states and the W&B run id in every checkpoint; on resume, sets the RNG states back when
    training starts (after Lightning's restore and data setup, right where the saved run was)."""

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint[KEY] = {"rng": rng_states(), "wandb_run_id": run_id(trainer.loggers)}

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        self._pending = checkpoint.get(KEY, {}).get("rng")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._pending is not None:
            set_rng_states(self._pending)
            self._pending = None
