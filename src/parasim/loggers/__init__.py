"""Every logger the `logger` config group builds: parasim's CSV logger and Lightning's W&B logger (configured
per Hydra job by `parasim.loggers.wandb`)."""

from lightning.pytorch.loggers import WandbLogger

from parasim.loggers.csv import CSVLogger
from parasim.loggers.wandb import finish, log_images, log_table, run_id

__all__ = ["CSVLogger", "WandbLogger", "finish", "log_images", "log_table", "run_id"]
