"""Hydra callback that keeps the sweep report current (`hydra.callbacks.sweep_report` in conf/hydra/default.yaml)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from parasim.sweeps.report import write_report

log = logging.getLogger(__name__)


class SweepReport(Callback):
    """Rewrites the report after every job of a multirun and once at its end.

    After every job, because Hydra skips `on_multirun_end` when a job failed (the basic sweeper
    re-raises its error), and a remote launcher's jobs end in their own processes.
    """

    def __init__(self, metric: str, mode: str = "max") -> None:
        self.metric = metric
        self.mode = mode

    def _write(self, config: DictConfig) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            path = write_report(sweep_dir, self.metric, self.mode)
        except Exception:  # a broken report must not turn a finished job into a failed one
            log.exception("could not write the sweep report in %s", sweep_dir)
            return
        if path is not None:
            log.info("sweep report: %s (.md, .png)", path)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode == RunMode.MULTIRUN:
            self._write(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._write(config)
