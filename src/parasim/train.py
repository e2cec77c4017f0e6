"""Training entry point: compose → instantiate → (base test) → fit → test → export → metrics.json.

`python scripts/train.py [overrides]`. Job status, loggers, interrupts and errors are `parasim.task`'s. Replay a
run with `python scripts/train.py --config-dir <run>/.hydra --config-name config +hydra=default`.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig
from rich.console import Console
from rich.markdown import Markdown

from parasim.callbacks import stored_wandb_run_id
from parasim.configs import CONFIG_DIR
from parasim.data.datamodule import PairDataModule
from parasim.evaluation import threshold, versus_base
from parasim.evaluation.plots import plot_training_loss
from parasim.evaluation.versus_base import VersusBase
from parasim.loggers import log_images, run_id
from parasim.loggers.wandb import configure_wandb
from parasim.module import ParaphraseModule
from parasim.reliability import preflight
from parasim.runs import log_run_config, write_metrics, write_run_info
from parasim.task import Job, Metrics, entry, run_job
from parasim.trainer import build_trainer
from parasim.utils.console import print_config_tree, print_metrics
from parasim.utils.files import write_json_atomic
from parasim.utils.instantiate import instantiate_group

EVAL_PREFIXES = ("base", "val", "test")


def build(cfg: DictConfig) -> tuple[ParaphraseModule, PairDataModule]:
    """The model and the data of a composed config (no Trainer), also used by eval and tests."""
    encoder = instantiate(cfg.model)
    loss = instantiate(cfg.loss, encoder=encoder)
    datamodule = instantiate(cfg.data, tokenizer=encoder.tokenizer, planner=encoder.planner,
                             unit=cfg.data.get("unit") or loss.unit)
    module = ParaphraseModule(loss, optimizer=instantiate(cfg.optimizer), scheduler=instantiate(cfg.scheduler))
    return module, datamodule


def train_job(job: Job) -> Metrics:
    """One training run in `job.output_dir`; returns its metrics (the sweeper reads `optimized_metric`)."""
    cfg, output_dir = job.cfg, job.output_dir
    preflight(cfg)  # config types, secrets, weights, ckpt_path, hardware, disk: fail now, not after an hour
    ckpt_path = cfg.get("ckpt_path")  # checked by preflight; may also be a Lightning alias such as "last"
    configure_wandb(cfg, resume_id=stored_wandb_run_id(ckpt_path) if ckpt_path and Path(ckpt_path).is_file() else None)
    print_config_tree(cfg, save_to=output_dir / "config_tree.log")
    job.loggers += instantiate_group(cfg.get("logger"))
    log_run_config(cfg, job.loggers)  # starts the W&B run: a job that fails in setup still shows up, failed

    L.seed_everything(cfg.seed, workers=True)
    module, datamodule = build(cfg)
    job.callbacks += instantiate_group(cfg.get("callbacks"))
    trainer = build_trainer(cfg.trainer, job.callbacks, job.loggers)
    datamodule.setup()
    threshold.check_target(cfg.get("threshold"), [r.label for r in datamodule.records["val"]])  # before, not after
    module.subset_names = datamodule.subset_names
    write_run_info(output_dir, datamodule.corpus.fingerprint, seed=cfg.seed, precision=trainer.precision,
                   resumed_from=ckpt_path, wandb_run_id=run_id(job.loggers))
    write_json_atomic(output_dir / "dataset_card.json", datamodule.dataset_card())

    checks = VersusBase(instantiate(cfg.suite) if cfg.get("suite") and cfg.get("eval_base") else None,
                        "sef1" if module.loss_fn.unit == "sentences" else "cosine")
    if cfg.get("eval_base"):
        module.test_prefix = "base"
        trainer.test(module, datamodule=datamodule)
        _keep_stage_metrics(module, trainer)
        module.test_prefix = "test"
        if trainer.is_global_zero:
            checks.before(module.to(trainer.strategy.root_device).encoder)  # the weights change in place
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=False)
    _keep_stage_metrics(module, trainer)
    if cfg.get("test"):
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") or None
        trainer.test(module, datamodule=datamodule, ckpt_path=best, weights_only=False)
        _keep_stage_metrics(module, trainer)

    metrics = {k: float(v) for k, v in module.last_metrics.items()}
    versus = _versus_base(module, datamodule, checks, trainer, output_dir) if trainer.is_global_zero else None
    metrics |= versus_base.flat_metrics(versus[0]) if versus else {}
    metrics["time/train_job_s"] = job.elapsed
    metrics["data/prepare_s"] = datamodule.prepare_seconds
    write_metrics(output_dir, metrics)
    export = instantiate(cfg.export)
    if trainer.is_global_zero:
        plot_training_loss(output_dir)
        if export.enabled:
            export(cfg, module, datamodule, metrics, output_dir, trainer)
    log_images(job.loggers, sorted(output_dir.glob("*.png")))
    _print_summary(metrics, output_dir, export.dir if export.enabled else None, versus[1] if versus else None)
    return metrics


def _versus_base(module: ParaphraseModule, datamodule: PairDataModule, checks: VersusBase, trainer: L.Trainer,
                 output_dir: Path) -> tuple[list, str] | None:
    """The tuned model against the base on the run's test split and the held-out checks (`versus_base.md`)."""
    if "base" not in module.last_scores:
        return None
    checks.after(module.to(trainer.strategy.root_device).encoder)
    base, tuned = (module.last_scores[p][0].double().numpy() if p in module.last_scores else None
                   for p in ("base", "test"))
    score = "SE-F1" if checks.paragraph_score == "sef1" else "paragraph cosine"
    results = checks.compare(versus_base.test_split_set(datamodule.records["test"], score), base, tuned)
    if not results:
        return None
    return results, versus_base.write(output_dir, results, score, *checks.bootstrap)


def _keep_stage_metrics(module: ParaphraseModule, trainer: L.Trainer) -> None:
    """Copy the stage's evaluation metrics from `trainer.callback_metrics` into `module.last_metrics`.

    Under a spawning strategy (`trainer=ddp_cpu`) the module that logged them lived in the workers; Lightning
    hands rank 0's logged metrics back to the main process, and only there. Single-process runs already
    hold the same values.
    """
    for name, value in trainer.callback_metrics.items():
        if name.split("/", 1)[0] in EVAL_PREFIXES:
            module.last_metrics.setdefault(name, float(value))


@rank_zero_only
def _print_summary(metrics: Metrics, output_dir: Path, export_dir: Path | None, versus: str | None) -> None:
    """The metrics table, tuned vs base, and where everything went, so nobody has to dig through the run dir."""
    shown = {k: v for k, v in metrics.items() if not k.endswith("/n") and "/tuned-base/" not in k}
    print_metrics(shown, title=f"metrics ({output_dir})")
    if versus:
        Console().print(Markdown(versus.split("\n## Sets", 1)[0]))
    places = {"run dir": output_dir, "metrics": output_dir / "metrics.json", "config": output_dir / ".hydra",
              "tuned vs base": output_dir / "versus_base.md",
              "checkpoints": output_dir / "checkpoints", "training loss plot": output_dir / "loss_curve.png",
              "export (SentenceTransformer(path))": export_dir}
    for name, path in places.items():
        if path is not None and path.exists():
            print(f"{name:>36}: {path}")
    offline = sorted((output_dir / "wandb").glob("offline-run-*"))
    if offline:
        print(f"{'W&B (offline)':>36}: wandb sync {offline[-1]}")


def train(cfg: DictConfig) -> Metrics:
    """Run one training job (status, loggers and errors handled); returns its metrics."""
    return run_job(train_job, cfg)


main = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")(entry(train_job))


def cli() -> None:
    main()
