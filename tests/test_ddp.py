"""trainer=ddp_cpu (2 spawned processes, gloo): it trains end to end, and its first step equals one process.

SE-F1 MSE is a mean over pairs and DDP averages gradients over processes, so 2 processes × 2 pairs must give
the loss and gradient of 1 process × 4 pairs. For that comparison dropout is off (its masks depend on each
process's batch shape) and the pairs come in file order: Lightning's own DistributedSampler always shuffles
training data, so a DDP run sees the pairs in another order than a single process with the same seed.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from torch import distributed, nn
from torch.utils.data import DataLoader, Sampler

from conftest import ROOT, compose_train
from parasim.data.collate import PairCollator
from parasim.data.datamodule import PairDataset
from parasim.train import build

GLOBAL_BATCH = 4


class InterleavedShard(Sampler[int]):
    """Pairs rank, rank + world, …, in order (DistributedSampler without shuffling), decided in each worker."""

    def __init__(self, size: int) -> None:
        self.size = size

    def _shard(self) -> range:
        if not distributed.is_initialized():
            return range(self.size)
        return range(distributed.get_rank(), self.size, distributed.get_world_size())

    def __iter__(self):
        return iter(self._shard())

    def __len__(self) -> int:
        return len(self._shard())


class FirstStep(L.Callback):
    """Writes the first step's global mean loss and gradient norm (after DDP's all-reduce) to `out`."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.loss: torch.Tensor | None = None

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor) -> None:
        self.loss = trainer.strategy.reduce(loss.detach(), reduce_op="mean")

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer) -> None:
        if trainer.global_step == 0 and trainer.is_global_zero:
            norm = torch.nn.utils.get_total_norm([p.grad for p in pl_module.parameters() if p.grad is not None])
            self.out.write_text(json.dumps({"loss": float(self.loss), "grad_norm": float(norm),
                                            "world_size": trainer.world_size}))


def first_step(tmp_path: Path, trainer_choice: str, per_process_batch: int) -> dict[str, float]:
    """One optimizer step of the tiny model on the first GLOBAL_BATCH training pairs, in file order."""
    out = tmp_path / f"{trainer_choice}.json"
    cfg = compose_train([f"trainer={trainer_choice}", "data.limit=16"], tmp_path / trainer_choice)
    module, datamodule = build(cfg)
    config = module.encoder.transformer.config  # the packed attention reads its dropout from the config
    config.attention_probs_dropout_prob = config.hidden_dropout_prob = 0.0
    for layer in module.modules():
        if isinstance(layer, nn.Dropout):
            layer.p = 0.0
    datamodule.setup()
    pairs = PairDataset(datamodule.corpus.splits["train"])
    loader = DataLoader(pairs, batch_size=per_process_batch, sampler=InterleavedShard(len(pairs)),
                        collate_fn=PairCollator(datamodule.corpus.units, datamodule.tokenizer.pad_token_id))
    trainer = instantiate(cfg.trainer, callbacks=[FirstStep(out)], logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False, max_steps=1, limit_val_batches=0,
                          use_distributed_sampler=False)
    trainer.fit(module, train_dataloaders=loader)
    return json.loads(out.read_text())


@pytest.mark.slow
def test_ddp_first_step_matches_single_process(tmp_path: Path) -> None:
    single = first_step(tmp_path, "cpu", GLOBAL_BATCH)
    ddp = first_step(tmp_path, "ddp_cpu", GLOBAL_BATCH // 2)
    assert (single["world_size"], ddp["world_size"]) == (1, 2)
    assert ddp["loss"] == pytest.approx(single["loss"], abs=1e-5)
    assert ddp["grad_norm"] == pytest.approx(single["grad_norm"], abs=1e-5)
    assert single["grad_norm"] > 1e-4  # a real gradient, not two zeros that trivially agree


def ddp_cli(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/train.py", "trainer=ddp_cpu", "model=mpnet_tiny", "logger=csv", "precision=32-true",
         "export.enabled=false", "data.limit=16", "data.batch_size=2", f"hydra.run.dir={tmp_path / 'run'}",
         f"data.cache_dir={tmp_path / 'prepared'}", *overrides],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )


@pytest.mark.slow
def test_ddp_cpu_trains_and_tests_from_the_cli(tmp_path: Path) -> None:
    """Base test, fit and test each spawn their own workers; all stages reach metrics.csv and metrics.json."""
    run = tmp_path / "run"
    result = ddp_cli(tmp_path, "eval_base=true")  # one whole epoch, so validation runs at its end
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    for stage in ("base", "val", "test"):  # logged in the spawned workers, recovered by the main process
        assert 0.0 <= metrics[f"{stage}/mse"] <= 1.0, sorted(metrics)
    assert f"{metrics['test/mse']:.4f}" in result.stdout  # the printed table shows the workers' metrics too
    with (run / "csv" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert len(losses) >= 2 and all(torch.isfinite(torch.tensor(losses)))
    assert any(r.get("test/roc_auc") for r in rows)
    assert (run / "checkpoints" / "last.ckpt").exists()


@pytest.mark.slow
def test_ddp_cpu_nan_guard_ends_with_one_line(tmp_path: Path) -> None:
    """The guard raises in the workers; the user reads its one-line error, as in a single process."""
    result = ddp_cli(tmp_path, "eval_base=false", "test=false", "optimizer.lr=1e30", "trainer.max_steps=6")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-3000:]
    assert "the training loss is nan" in errors[0] and "last_good.ckpt" in errors[0]
    assert "Traceback" not in result.stderr and "terminated with the following error" not in result.stderr
    status = json.loads((tmp_path / "run" / "job_status.json").read_text())
    assert status["status"] == "failed" and status["error"].startswith("NonFiniteLossError: the training loss is nan")
    assert (tmp_path / "run" / "checkpoints" / "last_good.ckpt").is_file()
