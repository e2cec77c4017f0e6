"""Lightning's CSVLogger, made safe for launchers that spawn worker processes (trainer=ddp_cpu).

Each stage (base test, fit, test) then runs in fresh workers that receive a copy of the main process's
logger, whose list of columns is still empty although an earlier stage has written metrics.csv. The next
write rewrites the file with only the new columns and fails ("dict contains fields not in fieldnames").
This subclass adopts the file's existing columns once per process before it writes.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping

from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger
from lightning.pytorch.utilities import rank_zero_only


class CSVLogger(LightningCSVLogger):
    """`lightning.pytorch.loggers.CSVLogger` that continues an existing metrics.csv in a new process."""

    _columns_read_in: int | None = None

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if self._columns_read_in != os.getpid():
            self._columns_read_in = os.getpid()
            writer = self.experiment
            fs = get_filesystem(writer.metrics_file_path)
            if fs.isfile(writer.metrics_file_path):
                with fs.open(writer.metrics_file_path, "r", newline="") as handle:
                    header = next(csv.reader(handle), [])
                writer.metrics_keys = sorted(set(writer.metrics_keys) | set(header))
        super().log_metrics(metrics, step)
