"""Every callback the `callbacks` config group builds: parasim's own (NaN guard, interrupt checkpoint, resume
state, validation at the end of a run) and the Lightning callbacks it configures (checkpoints, progress bar,
learning-rate monitor, early stopping)."""

from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint, TQDMProgressBar

from parasim.callbacks.final_validation import ValidateAtEnd
from parasim.callbacks.interrupt import InterruptCheckpoint
from parasim.callbacks.nan_guard import LossScaleStallError, NanGuard, NonFiniteLossError
from parasim.callbacks.resume_state import ResumeState, stored_wandb_run_id

__all__ = ["EarlyStopping", "InterruptCheckpoint", "LearningRateMonitor", "LossScaleStallError", "ModelCheckpoint",
           "NanGuard", "NonFiniteLossError", "ResumeState", "TQDMProgressBar", "ValidateAtEnd", "stored_wandb_run_id"]
