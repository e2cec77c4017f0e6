"""Every callback the `callbacks` config group builds: parasim's own (NaN guard, interrupt checkpoint, resume
state) and the Lightning callbacks it configures (checkpoints, progress bar, learning-rate monitor)."""

from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, TQDMProgressBar

from parasim.callbacks.interrupt import InterruptCheckpoint
from parasim.callbacks.nan_guard import LossScaleStallError, NanGuard, NonFiniteLossError
from parasim.callbacks.resume_state import ResumeState, stored_wandb_run_id

__all__ = ["InterruptCheckpoint", "LearningRateMonitor", "LossScaleStallError", "ModelCheckpoint", "NanGuard",
           "NonFiniteLossError", "ResumeState", "TQDMProgressBar", "stored_wandb_run_id"]
