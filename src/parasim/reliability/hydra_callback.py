"""A Hydra callback with the checks that must run before Hydra itself writes anything.

Hydra creates the run directory and saves `.hydra/config.yaml` before the task function starts, so a
read-only or full disk would end in a traceback from inside Hydra, and a secret in the config would
already be on disk. `on_run_start`/`on_multirun_start` run before both (registered in conf/hydra/default.yaml).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from parasim.errors import ParasimError
from parasim.reliability.preflight import check_output_dir, footprint_bytes
from parasim.reliability.secrets import check_no_secrets


class PreflightCallback(Callback):
    """Refuse secrets in the config and an unwritable or full output disk, as one `error:` line (exit 2)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.sweep.dir")

    @staticmethod
    def _check(config: DictConfig, dir_key: str) -> None:
        if not HydraConfig.initialized():  # `${hydra:runtime.cwd}` in the output dir needs it; run_job sets it again
            HydraConfig.instance().set_config(config)
        try:
            check_no_secrets(config)
            directory = OmegaConf.select(config, dir_key)
            if directory:
                check_output_dir(Path(directory), footprint_bytes(config))
        except ParasimError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
