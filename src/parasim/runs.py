"""What a run leaves in its directory besides checkpoints and the export, so it can be compared and reproduced.

`job_status.json` (running → completed | failed | interrupted, with wall time: a sweep report tells a job that
failed or was killed from one that finished, whichever launcher ran it), `run_info.json` (code version and
git state, data fingerprint, seed, resolved precision, W&B run id), `metrics.json`, and the resolved config
as the loggers' hyper-parameters.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

import parasim
from parasim.utils.files import write_json_atomic

STATUS_FILE = "job_status.json"


def write_status(run_dir: str | Path, status: str, **fields: Any) -> Path:
    return write_json_atomic(Path(run_dir) / STATUS_FILE, {"status": status, **fields})


def read_status(run_dir: str | Path) -> dict[str, Any]:
    """`{"status": "not started"}` for a job dir without a status file (its job never reached training)."""
    path = Path(run_dir) / STATUS_FILE
    return json.loads(path.read_text()) if path.is_file() else {"status": "not started"}


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                             cwd=Path(parasim.__file__).parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit() -> str | None:
    return _git("rev-parse", "HEAD") or None


def git_dirty() -> bool | None:
    """Whether the working tree had uncommitted changes: the commit alone does not reproduce the run then."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def framework_versions() -> dict[str, str]:
    return {"sentence_transformers": _version("sentence-transformers"), "transformers": _version("transformers"),
            "pytorch": torch.__version__}


def log_run_config(cfg: DictConfig, loggers: list[Logger]) -> None:
    """The full resolved config as the loggers' hyper-parameters (W&B run config)."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for logger in loggers:
        logger.log_hyperparams(resolved)


def write_run_info(output_dir: Path, data_fingerprint: str | None, **extra: Any) -> None:
    """What replaying the run needs beyond .hydra/: code version, data fingerprint, and `extra` (seed, resume, …)."""
    write_json_atomic(output_dir / "run_info.json", {
        "parasim_version": parasim.__version__,
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "data_fingerprint": data_fingerprint,
        "versions": framework_versions(),
        **extra,
    })


def write_metrics(output_dir: Path, metrics: Mapping[str, float]) -> Path:
    """NaN (a metric undefined on one-class data) is written as null, keeping the file valid JSON."""
    return write_json_atomic(output_dir / "metrics.json", {k: None if v != v else v for k, v in metrics.items()})
