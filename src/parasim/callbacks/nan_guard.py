"""Stop at the first NaN/Inf loss or gradient, or a stalled fp16 loss scale, instead of training on garbage all night.

What it checks, all at once just before each optimizer step (after DDP has averaged the gradients and
the loss scaler has unscaled them, before clipping and the step): every loss of the step (kept on the
device as backward starts), the total gradient norm, and under fp16 loss scaling whether the scaler
found an overflow. Those flags come to the host in one transfer, the step's only sync; GradScaler
synchronises at that very point anyway to decide whether to skip the step.

Weights that give a NaN loss were made by the previous step, whose own loss was still finite (a
too-large learning rate does exactly this), so the current weights are not "good". The guard keeps a
copy of the weights of the last step whose checks passed (one extra copy of the trainable parameters,
on their device, taken with one multi-tensor copy) and writes those into the checkpoint it saves
before stopping.

Under fp16 a GradScaler skips a step whose gradients overflow and halves its scale; when gradients
overflow at every scale, it skips every step and training silently stops learning. The guard stops
when `max_skipped_steps` steps in a row were skipped, or the scale fell below 1 (gradients overflow even
unscaled), and shows the unscaled loss.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from parasim.errors import ParasimError

log = logging.getLogger(__name__)
HINT = ("Lower optimizer.lr and start again, keep trainer.gradient_clip_val, try trainer.precision=32-true, "
        "or check the data.")


class NonFiniteLossError(ParasimError):
    """Training produced a NaN or Inf loss or gradient; the message says where the last good weights are."""


class LossScaleStallError(NonFiniteLossError):
    """fp16 loss scaling skipped every step: gradients overflow at any scale."""


def _scaler(trainer: L.Trainer) -> torch.amp.GradScaler | None:
    scaler = getattr(trainer.precision_plugin, "scaler", None)
    return scaler if scaler is not None and scaler.is_enabled() else None


class NanGuard(Callback):
    """Raise `NonFiniteLossError` at the first non-finite loss/gradient, after checkpointing the last good weights.

    dirpath: where `filename` goes (default: the ModelCheckpoint's directory, else <output>/checkpoints).
    check_grads: also stop on a non-finite gradient norm (not under fp16 loss scaling, where an Inf
    gradient is expected now and then and the scaler skips that step itself).
    snapshot: keep the copy described above; without it only a non-finite gradient leaves a good state.
    max_skipped_steps: under fp16 loss scaling, stop after this many skipped steps in a row.
    """

    def __init__(self, dirpath: str | None = None, filename: str = "last_good.ckpt", check_grads: bool = True,
                 snapshot: bool = True, max_skipped_steps: int = 25) -> None:
        self.dirpath = dirpath
        self.filename = filename
        self.check_grads = check_grads
        self.snapshot = snapshot
        self.max_skipped_steps = max_skipped_steps
        self._good: list[torch.Tensor] | None = None
        self._good_step: int | None = None
        self._losses: list[torch.Tensor] = []
        self._skipped = 0

    @staticmethod
    def _trainable(pl_module: L.LightningModule) -> list[torch.Tensor]:
        return [p for p in pl_module.parameters() if p.requires_grad]

    @torch.no_grad()
    def _keep(self, pl_module: L.LightningModule, step: int) -> None:
        params = [p.detach() for p in self._trainable(pl_module)]
        if self._good is None:
            self._good = [p.clone() for p in params]
        else:
            torch._foreach_copy_(self._good, params)
        self._good_step = step

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor) -> None:
        """Keep the loss (unscaled: Lightning passes the scaled one under fp16) for the check before the step."""
        scaler = _scaler(trainer)
        loss = loss.detach().float()
        self._losses.append(loss / scaler._scale if scaler is not None else loss)  # get_scale() would sync

    @torch.no_grad()
    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        losses, self._losses = self._losses, []
        loss = torch.stack(losses).mean() if losses else None
        scaler = _scaler(trainer)
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads) if grads and self.check_grads and scaler is None else None
        zero = torch.zeros((), device=pl_module.device)
        flags = torch.stack([
            (~torch.isfinite(loss)).float() if loss is not None else zero,
            (~torch.isfinite(norm)).float() if norm is not None else zero,
            _found_inf(scaler, optimizer, zero) if scaler is not None else zero,
            scaler._scale.float().to(zero.device) if scaler is not None else zero,  # private: no public tensor accessor
        ])
        if trainer.world_size > 1:  # every rank stops together: any rank's bad flag counts
            flags = trainer.strategy.reduce(flags, reduce_op="sum") / torch.tensor([1, 1, 1, trainer.world_size],
                                                                               device=flags.device)
        bad_loss, bad_grad, overflow, scale = flags.tolist()  # the one host sync of the step
        if bad_loss:
            self._stop(trainer, pl_module, f"the training loss is {float(loss)}", current_is_good=False)
        if bad_grad:
            self._stop(trainer, pl_module, f"the gradient norm is {float(norm)}", current_is_good=True)
        if scaler is not None:
            scale *= scaler.get_backoff_factor() if overflow else 1.0  # as the scaler's update after this step sets it
            self._check_scale(trainer, pl_module, bool(overflow), scale, loss)
        if self.snapshot and self._good_step != trainer.global_step:  # this step's weights passed every check
            self._keep(pl_module, trainer.global_step)

    def _check_scale(self, trainer: L.Trainer, pl_module: L.LightningModule, overflow: bool, scale: float,
                     loss: torch.Tensor | None) -> None:
        self._skipped = self._skipped + 1 if overflow else 0
        if self._skipped >= self.max_skipped_steps or scale < 1.0:
            what = (f"fp16 loss scaling stalled: the gradients overflowed in {self._skipped} optimizer steps in a row "
                    f"(the scaler skipped them all) and the loss scale fell to {scale:g}; the unscaled loss is "
                    f"{float(loss) if loss is not None else float('nan'):.6g}")
            self._stop(trainer, pl_module, what, current_is_good=True, error=LossScaleStallError,
                       hint="Use trainer.precision=bf16-mixed (no loss scaling) or trainer.precision=32-true, or "
                            "lower optimizer.lr.")

    def _checkpoint_path(self, trainer: L.Trainer) -> Path:
        directory = self.dirpath or getattr(trainer.checkpoint_callback, "dirpath", None)
        return Path(directory or Path(trainer.default_root_dir) / "checkpoints") / self.filename

    @torch.no_grad()
    def _stop(self, trainer: L.Trainer, pl_module: L.LightningModule, what: str, current_is_good: bool,
              error: type[NonFiniteLossError] = NonFiniteLossError, hint: str = HINT) -> None:
        step = trainer.global_step
        where = f"{what} at step {step} (epoch {trainer.current_epoch}); training stopped."
        if current_is_good:
            good_step = step
        elif self._good is not None:
            torch._foreach_copy_([p.detach() for p in self._trainable(pl_module)], self._good)
            good_step = self._good_step
        else:
            reason = "the first step already failed" if self.snapshot else "snapshot is off"
            raise error(f"{where} No good weights to save ({reason}). {hint}")
        path = self._checkpoint_path(trainer)
        trainer.save_checkpoint(path)
        log.error("NaN guard: saved the weights after step %s to %s", good_step, path)
        raise error(f"{where} The weights after step {good_step}, the last with a finite loss, are saved in {path} "
                    f"(a full checkpoint: ckpt_path= resumes from it with its optimizer state, learning rate "
                    f"included). {hint}")


def _found_inf(scaler: torch.amp.GradScaler, optimizer: torch.optim.Optimizer, zero: torch.Tensor) -> torch.Tensor:
    """1 when the scaler's unscale_ of this step found an Inf/NaN gradient (it will skip the step), else 0."""
    found = scaler._per_optimizer_states[id(optimizer)]["found_inf_per_device"]  # private: no public accessor
    return torch.stack([f.to(zero.device) for f in found.values()]).sum().clamp(max=1) if found else zero
