"""The one wrapper every entry point's job runs in: job status, loggers closed, errors shown once, exit codes.

Whatever happens, a job with a run dir leaves `job_status.json` (completed, failed or interrupted) and closes its
loggers (W&B marked failed on a non-zero exit code, else the next job of a multirun would log into its run).
SIGTERM or Ctrl-C during training ends with the checkpoint `InterruptCheckpoint` saved, the command that resumes,
and exit code 128+signal. A ParasimError — raised here, wrapped by Hydra's `instantiate`, or raised in a DDP
worker — ends a single run as one `error:` line with exit code 2; any other error raised in a DDP worker is
raised as that error, as in one process, its worker traceback saved beside the run. In a multirun a failing job
stays one failed job of the sweep, or gives the sweeper `failed_trial_value` when the config sets one.
"""

from __future__ import annotations

import functools
import logging
import math
import shlex
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning import Callback
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from parasim.callbacks import InterruptCheckpoint
from parasim.errors import ParasimError, user_error_in, worker_exception
from parasim.loggers import finish, run_id
from parasim.runs import write_status
from parasim.utils.files import write_text_atomic

log = logging.getLogger(__name__)
Metrics = dict[str, float]


@dataclass
class Job:
    """What a running job shares with its wrapper: the loggers and callbacks it has built so far."""

    cfg: DictConfig
    output_dir: Path | None  # None: the job writes only where it is told (scoring)
    loggers: list[Logger] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @rank_zero_only
    def status(self, status: str, **fields: Any) -> None:
        if self.output_dir is not None:
            write_status(self.output_dir, status, wall_s=round(self.elapsed, 3), wandb_run_id=run_id(self.loggers),
                         **fields)


def run_job(work: Callable[[Job], Metrics], cfg: DictConfig) -> Metrics:
    """Run `work` with status, loggers and errors handled; returns its metrics."""
    paths = cfg.get("paths")
    job = Job(cfg, Path(paths.output_dir) if paths is not None else None)
    if job.output_dir is not None:
        job.output_dir.mkdir(parents=True, exist_ok=True)
    job.status("running")
    try:
        metrics = work(job)
    except SIGTERMException:
        _interrupted(job)
    except BaseException as err:
        shown = user_error_in(err) or worker_exception(err) or err
        job.status("failed", error=f"{type(shown).__name__}: {shown}")
        finish(job.loggers, 1)
        if shown is err:
            raise
        if not isinstance(shown, ParasimError) and job.output_dir is not None:
            trace = write_text_atomic(job.output_dir / "worker_traceback.txt", str(err))
            log.error("a DDP worker failed; its traceback is in %s", trace)
        raise shown from None
    job.status("completed")
    finish(job.loggers, 0)
    return metrics


def _interrupted(job: Job) -> None:
    stop = next((c for c in job.callbacks if isinstance(c, InterruptCheckpoint)), None)
    signum = (stop.signal if stop else None) or signal.SIGTERM
    saved = stop.saved if stop else None
    job.status("interrupted", signal=signum.name, checkpoint=str(saved) if saved else None)
    finish(job.loggers, 128 + signum)
    hint = f"resume with:\n  {_resume_command(saved)}" if saved else "no checkpoint (no interrupt_checkpoint)"
    print(f"interrupted by {signum.name}; {hint}", file=sys.stderr)
    raise SystemExit(128 + signum) from None


def _resume_command(checkpoint: Path) -> str:
    overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    kept = [o for o in overrides if not o.startswith("ckpt_path=")]
    return shlex.join(["python", sys.argv[0], *kept, f"ckpt_path={checkpoint}"])


def sweep_value(cfg: DictConfig, metrics: Metrics) -> float | None:
    """`optimized_metric` for the sweeper; a name the run does not log is a config error, NaN a failed trial."""
    name = cfg.get("optimized_metric")
    if name is None:
        return None
    if name not in metrics:
        raise ParasimError(f"optimized_metric={name} is not a metric of this run; it has {sorted(metrics)}")
    fallback = cfg.get("failed_trial_value")
    return float(fallback) if math.isnan(metrics[name]) and fallback is not None else metrics[name]


def entry(work: Callable[[Job], Metrics]) -> Callable[[DictConfig], float | None]:
    """The function `hydra.main` runs: `work` in `run_job`, returning the sweep metric.

    A single run prints a ParasimError as one line (exit 2). In a multirun a failing job stays one failed
    job of the sweep; with `failed_trial_value` set (hparams_search) it gives the sweeper that value instead,
    so one crash (out of memory, a diverging trial) does not end the study. A wrong metric name does.
    """

    @functools.wraps(work)
    def main(cfg: DictConfig) -> float | None:
        multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
        try:
            metrics = run_job(work, cfg)
        except Exception as err:
            if not multirun and isinstance(err, ParasimError):
                print(f"error: {err}", file=sys.stderr)
                sys.exit(2)
            if not multirun or cfg.get("failed_trial_value") is None:
                raise
            log.exception("job failed; the sweeper gets failed_trial_value=%s", cfg.failed_trial_value)
            return float(cfg.failed_trial_value)
        return sweep_value(cfg, metrics) if multirun else metrics.get(cfg.get("optimized_metric"))

    return main
