"""Training entry point: compose → instantiate → (base test) → fit → test → export → metrics.json.

Whatever happens, a job leaves `job_status.json` (completed, failed or interrupted) and closes its W&B
run; SIGTERM or Ctrl-C during fit ends with a resumable checkpoint, a resume command and exit code
128+signal. Replay a run with `python scripts/train.py --config-dir <run>/.hydra --config-name config +hydra=default`.
"""

from __future__ import annotations

import logging
import math
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, open_dict

from parasim.callbacks import InterruptCheckpoint, stored_wandb_run_id
from parasim.errors import ParasimError
from parasim.evaluation.plots import plot_training_loss
from parasim.module import ParaphraseModule
from parasim.reliability import preflight
from parasim.reliability.worker_errors import worker_exception
from parasim.run_artifacts import export_run, log_run_config, write_metrics, write_run_info
from parasim.sweeps.status import write_status
from parasim.tracking import configure_wandb, finish_wandb, log_run_images, run_id
from parasim.utils.console import print_config_tree, print_metrics, user_error_in, user_errors
from parasim.utils.files import write_json_atomic, write_text_atomic
from parasim.utils.instantiate import instantiate_callbacks, instantiate_loggers
from parasim.utils.precision import resolve_precision
from parasim.utils.resolvers import register_resolvers

log = logging.getLogger(__name__)
EVAL_PREFIXES = ("base", "val", "test")
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def build(cfg: DictConfig) -> tuple[ParaphraseModule, L.LightningDataModule]:
    """The model and the data of a composed config (no Trainer), also used by eval and tests."""
    encoder = instantiate(cfg.model)
    loss = instantiate(cfg.loss, encoder=encoder)
    datamodule = instantiate(cfg.data, tokenizer=encoder.tokenizer, planner=encoder.planner,
                             unit=cfg.data.get("unit") or loss.unit)
    module = ParaphraseModule(loss, optimizer=instantiate(cfg.optimizer), scheduler=instantiate(cfg.scheduler))
    return module, datamodule


@rank_zero_only
def _status(output_dir: Path, status: str, started: float, **fields: Any) -> None:
    write_status(output_dir, status, wall_s=round(time.perf_counter() - started, 3), **fields)


def _fit_and_test(cfg: DictConfig, output_dir: Path, started: float, loggers: list[Logger],
                  callbacks: list[L.Callback]) -> dict[str, float]:
    """The run itself; fills `loggers` and `callbacks` as it creates them, for `train` to close or inspect."""
    with open_dict(cfg):
        cfg.trainer.precision = resolve_precision(cfg.precision.value, cfg.trainer.get("accelerator", "auto"))
    ckpt_path = cfg.get("ckpt_path")  # checked by preflight; may also be a Lightning alias such as "last"
    configure_wandb(cfg, resume_id=stored_wandb_run_id(ckpt_path) if ckpt_path and Path(ckpt_path).is_file() else None)
    print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    loggers += instantiate_loggers(cfg.get("logger"))
    log_run_config(cfg, loggers)  # starts the W&B run: a job that fails in setup still shows up, failed

    L.seed_everything(cfg.seed, workers=True)
    module, datamodule = build(cfg)
    callbacks += instantiate_callbacks(cfg.get("callbacks"))
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

    datamodule.setup()
    module.subset_names = datamodule.subset_names
    write_run_info(output_dir, datamodule, seed=cfg.seed, resumed_from=ckpt_path, wandb_run_id=run_id(loggers))
    if hasattr(datamodule, "dataset_card"):
        write_json_atomic(output_dir / "dataset_card.json", datamodule.dataset_card())
    if cfg.get("eval_base"):
        module.test_prefix = "base"
        trainer.test(module, datamodule=datamodule)
        _keep_stage_metrics(module, trainer)
        module.test_prefix = "test"
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=False)
    _keep_stage_metrics(module, trainer)
    if cfg.get("test"):
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") or None
        trainer.test(module, datamodule=datamodule, ckpt_path=best, weights_only=False)
        _keep_stage_metrics(module, trainer)

    metrics = {k: float(v) for k, v in module.last_metrics.items()}
    metrics["time/train_job_s"] = time.perf_counter() - started
    metrics["data/prepare_s"] = datamodule.prepare_seconds
    write_metrics(output_dir, metrics)
    if trainer.is_global_zero:
        plot_training_loss(output_dir)
    if cfg.export.get("enabled") and trainer.is_global_zero:
        path = export_run(cfg, module, datamodule, metrics, output_dir, device=trainer.strategy.root_device)
        log.info("exported sentence-transformers model to %s", path)
    log_run_images(loggers, output_dir)
    return metrics


def _keep_stage_metrics(module: ParaphraseModule, trainer: L.Trainer) -> None:
    """Copy the stage's evaluation metrics from `trainer.callback_metrics` into `module.last_metrics`.

    Under a spawning strategy (`trainer=ddp_cpu`) the module that logged them lived in the workers; Lightning
    hands rank 0's logged metrics back to the main process, and only there. Single-process runs already
    hold the same values.
    """
    for name, value in trainer.callback_metrics.items():
        if name.split("/", 1)[0] in EVAL_PREFIXES:
            module.last_metrics.setdefault(name, float(value))


def _resume_hint(checkpoint: Path) -> str:
    overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    kept = [o for o in overrides if not o.startswith("ckpt_path=")]
    return shlex.join(["python", sys.argv[0], *kept, f"ckpt_path={checkpoint}"])


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run one training job; returns its metrics (the sweeper reads `cfg.optimized_metric` from them)."""
    started = time.perf_counter()
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    _status(output_dir, "running", started)
    loggers: list[Logger] = []
    callbacks: list[L.Callback] = []
    try:
        preflight(cfg)  # config types, secrets, weights, ckpt_path, hardware, disk: fail now, not after an hour
        metrics = _fit_and_test(cfg, output_dir, started, loggers, callbacks)
    except SIGTERMException:
        stop = next((c for c in callbacks if isinstance(c, InterruptCheckpoint)), None)
        signum = (stop.signal if stop else None) or signal.SIGTERM
        saved = stop.saved if stop else None
        _status(output_dir, "interrupted", started, signal=signum.name, checkpoint=str(saved) if saved else None,
                wandb_run_id=run_id(loggers))
        finish_wandb(loggers, 128 + signum)
        hint = f"resume with:\n  {_resume_hint(saved)}" if saved else "no checkpoint (no interrupt_checkpoint)"
        print(f"interrupted by {signum.name}; {hint}", file=sys.stderr)
        raise SystemExit(128 + signum) from None
    except BaseException as err:
        shown = user_error_in(err) or worker_exception(err) or err  # a DDP worker's error, not its whole traceback
        _status(output_dir, "failed", started, error=f"{type(shown).__name__}: {shown}", wandb_run_id=run_id(loggers))
        finish_wandb(loggers, 1)
        if shown is err:
            raise
        if not isinstance(shown, ParasimError):
            trace = write_text_atomic(output_dir / "worker_traceback.txt", str(err))
            log.error("a DDP worker failed; its traceback is in %s", trace)
        raise shown from None
    _status(output_dir, "completed", started, wandb_run_id=run_id(loggers))
    finish_wandb(loggers, 0)
    print_metrics({k: v for k, v in metrics.items() if not k.endswith("/n")}, title=f"metrics ({output_dir})")
    _print_locations(cfg, output_dir)
    return metrics


@rank_zero_only
def _print_locations(cfg: DictConfig, output_dir: Path) -> None:
    """Where everything went, so nobody has to dig through the run dir."""
    places = {"run dir": output_dir, "metrics": output_dir / "metrics.json", "config": output_dir / ".hydra",
              "checkpoints": output_dir / "checkpoints", "training loss plot": output_dir / "loss_curve.png",
              "export (SentenceTransformer(path))": Path(cfg.export.dir) if cfg.export.get("enabled") else None}
    for name, path in places.items():
        if path is not None and path.exists():
            print(f"{name:>36}: {path}")
    offline = sorted((output_dir / "wandb").glob("offline-run-*"))
    if offline:
        print(f"{'W&B (offline)':>36}: wandb sync {offline[-1]}")


def sweep_value(cfg: DictConfig, metrics: dict[str, Any]) -> float:
    """`optimized_metric` for the sweeper; a name the run does not log is a config error, NaN a failed trial."""
    name = cfg.optimized_metric
    if name not in metrics:
        raise ParasimError(f"optimized_metric={name} is not a metric of this run; it has {sorted(metrics)}")
    fallback = cfg.get("failed_trial_value")
    return float(fallback) if math.isnan(metrics[name]) and fallback is not None else metrics[name]


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """A single run prints a ParasimError as one line (exit 2). In a multirun a failing job stays one failed
    job of the sweep; with `failed_trial_value` set (hparams_search) it gives the sweeper that value instead,
    so one crash (out of memory, a diverging trial) does not end the study. A wrong metric name does."""
    if HydraConfig.get().mode != RunMode.MULTIRUN:
        metrics = user_errors(train)(cfg)
        return metrics.get(cfg.get("optimized_metric"))
    try:
        metrics = train(cfg)
    except Exception:
        if cfg.get("failed_trial_value") is None:
            raise
        log.exception("job failed; the sweeper gets failed_trial_value=%s", cfg.failed_trial_value)
        return float(cfg.failed_trial_value)
    return sweep_value(cfg, metrics)


def cli() -> None:
    register_resolvers()
    main()


register_resolvers()
