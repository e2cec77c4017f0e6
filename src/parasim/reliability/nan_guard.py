"""Stop at the first NaN/Inf loss or gradient instead of training on garbage all night.

Where it looks: the loss in `on_before_backward`, before any gradient of it reaches the weights, and the
total gradient norm in `on_before_optimizer_step`, after DDP has averaged the gradients and before clipping
and the step. Weights that give a NaN loss were made by the previous step, whose own loss was still finite
(a too-large learning rate does exactly this), so the current weights are not "good". The guard therefore
keeps a copy of the weights of the last step whose loss was finite (one extra copy of the trainable
parameters, on their device) and writes those into the checkpoint it saves before stopping.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from parasim.errors import ParasimError

log = logging.getLogger(__name__)


class NonFiniteLossError(ParasimError):
    """Training produced a NaN or Inf loss or gradient; the message says where the last good weights are."""


class NanGuard(Callback):
    """Raise `NonFiniteLossError` at the first non-finite loss/gradient, after checkpointing the last good weights.

    dirpath: where `filename` goes (default: the ModelCheckpoint's directory, else <output>/checkpoints).
    check_grads: also stop on a non-finite gradient norm (skipped under fp16 loss scaling, where an Inf
    gradient is expected now and then and the scaler skips that step itself).
    snapshot: keep the copy described above; without it only a non-finite gradient leaves a good state.
    """

    def __init__(self, dirpath: str | None = None, filename: str = "last_good.ckpt", check_grads: bool = True,
                 snapshot: bool = True) -> None:
        self.dirpath = dirpath
        self.filename = filename
        self.check_grads = check_grads
        self.snapshot = snapshot
        self._good: list[torch.Tensor] | None = None
        self._good_step: int | None = None

    @staticmethod
    def _trainable(pl_module: L.LightningModule) -> list[torch.Tensor]:
        return [p for p in pl_module.parameters() if p.requires_grad]

    @torch.no_grad()
    def _keep(self, pl_module: L.LightningModule, step: int) -> None:
        params = self._trainable(pl_module)
        if self._good is None:
            self._good = [p.detach().clone() for p in params]
        else:
            for kept, param in zip(self._good, params, strict=True):
                kept.copy_(param)
        self._good_step = step

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor) -> None:
        bad = not bool(torch.isfinite(loss.detach()).all())
        if trainer.strategy.reduce_boolean_decision(bad, all=False):
            self._stop(trainer, pl_module, f"the training loss is {loss.detach().float().mean().item()}",
                       current_is_good=False)
        if self.snapshot and self._good_step != trainer.global_step:  # once per optimizer step
            self._keep(pl_module, trainer.global_step)

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        if not self.check_grads or getattr(trainer.precision_plugin, "scaler", None) is not None:
            return
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if not grads:
            return
        norm = torch.nn.utils.get_total_norm(grads)
        if trainer.strategy.reduce_boolean_decision(not bool(torch.isfinite(norm)), all=False):
            self._stop(trainer, pl_module, f"the gradient norm is {norm.item()}", current_is_good=True)

    def _checkpoint_path(self, trainer: L.Trainer) -> Path:
        directory = self.dirpath or getattr(trainer.checkpoint_callback, "dirpath", None)
        return Path(directory or Path(trainer.default_root_dir) / "checkpoints") / self.filename

    @torch.no_grad()
    def _stop(self, trainer: L.Trainer, pl_module: L.LightningModule, what: str, current_is_good: bool) -> None:
        step = trainer.global_step
        where = f"{what} at step {step} (epoch {trainer.current_epoch}); training stopped."
        hint = ("Lower optimizer.lr and start again, keep trainer.gradient_clip_val, try precision=32-true, "
                "or check the data.")
        if current_is_good:
            good_step = step
        elif self._good is not None:
            for param, kept in zip(self._trainable(pl_module), self._good, strict=True):
                param.copy_(kept)
            good_step = self._good_step
        else:
            reason = "the first step already failed" if self.snapshot else "snapshot is off"
            raise NonFiniteLossError(f"{where} No good weights to save ({reason}). {hint}")
        path = self._checkpoint_path(trainer)
        trainer.save_checkpoint(path)
        log.error("NaN guard: saved the weights after step %s to %s", good_step, path)
        raise NonFiniteLossError(f"{where} The weights after step {good_step}, the last with a finite loss, are "
                                 f"saved in {path} (a full checkpoint: ckpt_path= resumes from it with its optimizer "
                                 f"state, learning rate included). {hint}")
