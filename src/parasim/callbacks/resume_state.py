"""What a checkpoint needs beyond Lightning's own state to resume bit for bit: RNG states and the W&B run id.

Lightning restores weights, optimizer, schedulers and loop progress, but not the random generators that
dropout draws from, nor which W&B run the job logged to. It saves the train loader's position
(`ResumableLoader.state_dict`) but loads it only into a loader it builds after the restore, and
`configure_optimizers` asking for `trainer.estimated_stepping_batches` builds it before: the position is
loaded here, when training starts, before the first batch is drawn. Lightning also saves the loggers' step
counter before counting the batch when a validation inside an epoch (`trainer.val_check_interval`) writes the
checkpoint, and cannot tell that from a checkpoint written at an epoch's end: resumed from it, a run would log
every step one too low (W&B drops steps it has already seen). The counter is set back to `global_step` (what it
equals with parasim's one optimizer, with or without gradient accumulation) at the first resumed batch.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from parasim.loggers.wandb import run_id

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
    """Saves RNG states and the W&B run id in every checkpoint; on resume, sets the RNG states and the train
    loader's position back when training starts (after Lightning's restore and data setup, right where the
    saved run was)."""

    def __init__(self) -> None:
        self._rng: dict[str, Any] | None = None
        self._loader_states: list[dict[str, Any]] = []
        self._resumed = False

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint[KEY] = {"rng": rng_states(), "wandb_run_id": run_id(trainer.loggers)}

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        self._rng = checkpoint.get(KEY, {}).get("rng")
        fit_loop = checkpoint.get("loops", {}).get("fit_loop", {})
        self._loader_states = fit_loop.get("state_dict", {}).get("combined_loader", [])
        self._resumed = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loader = trainer.train_dataloader
        if self._loader_states and hasattr(loader, "load_state_dict"):
            loader.load_state_dict(self._loader_states[0])
        if self._rng is not None:
            set_rng_states(self._rng)
        self._rng, self._loader_states = None, []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self._resumed:  # after Lightning's loop reset, which may or may not have counted the saved batch
            trainer.fit_loop.epoch_loop._batches_that_stepped = trainer.global_step
            self._resumed = False
