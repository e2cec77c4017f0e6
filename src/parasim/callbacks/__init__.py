"""Lightning callbacks for runs that can stop at any time and resume exactly."""

from parasim.callbacks.interrupt import InterruptCheckpoint
from parasim.callbacks.resume_state import ResumeState, stored_wandb_run_id

__all__ = ["InterruptCheckpoint", "ResumeState", "stored_wandb_run_id"]
