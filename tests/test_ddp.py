"""trainer=ddp_cpu (2 spawned processes, gloo): it trains end to end, and its steps equal one process.

SE-F1 MSE is a mean over pairs and DDP averages gradients over processes, so 2 processes × 2 pairs must give
the loss, gradient and updates of 1 process × 4 pairs. For that comparison dropout is off (its masks depend on each
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
STEPS = 3
LR = 0.5  # large enough that three steps move the weights far beyond the 1e-5 the runs must agree to


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


class Record(L.Callback):
    """Writes the first step's global mean loss and gradient norm (after DDP's all-reduce) and, on every rank,
    the weights after the last step, to `out`."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.loss: torch.Tensor | None = None

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor) -> None:
        if trainer.global_step == 0:
            self.loss = trainer.strategy.reduce(loss.detach(), reduce_op="mean")

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer) -> None:
        if trainer.global_step == 0 and trainer.is_global_zero:
            norm = torch.nn.utils.get_total_norm([p.grad for p in pl_module.parameters() if p.grad is not None])
            (self.out / "first_step.json").write_text(json.dumps(
                {"loss": float(self.loss), "grad_norm": float(norm), "world_size": trainer.world_size}))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        weights = {name: p.detach().clone() for name, p in pl_module.named_parameters()}
        torch.save(weights, self.out / f"weights_rank{trainer.global_rank}.pt")


def train_steps(tmp_path: Path, trainer_choice: str, per_process_batch: int) -> tuple[dict, list[dict]]:
    """STEPS optimizer steps of the tiny model (it has a pooler, as the real checkpoint) on the first
    STEPS × GLOBAL_BATCH training pairs in file order; returns the first step's figures and each rank's weights."""
    out = tmp_path / trainer_choice
    out.mkdir()
    cfg = compose_train([f"trainer={trainer_choice}", "data.limit=16", f"optimizer.lr={LR}"], out)
    module, datamodule = build(cfg)
    assert any(name.startswith("transformer.pooler.") for name, _ in module.encoder.named_parameters())
    config = module.encoder.transformer.config  # the packed attention reads its dropout from the config
    config.attention_probs_dropout_prob = config.hidden_dropout_prob = 0.0
    for layer in module.modules():
        if isinstance(layer, nn.Dropout):
            layer.p = 0.0
    datamodule.setup()
    pairs = PairDataset(datamodule.corpus.splits["train"])
    loader = DataLoader(pairs, batch_size=per_process_batch, sampler=InterleavedShard(len(pairs)),
                        collate_fn=PairCollator(datamodule.corpus.units, datamodule.planner))
    trainer = instantiate(cfg.trainer, callbacks=[Record(out)], logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False, max_steps=STEPS, limit_val_batches=0,
                          use_distributed_sampler=False)
    trainer.fit(module, train_dataloaders=loader)
    ranks = sorted(out.glob("weights_rank*.pt"))
    return json.loads((out / "first_step.json").read_text()), [torch.load(p) for p in ranks]


@pytest.mark.slow
def test_ddp_trains_several_steps_and_equals_one_process(tmp_path: Path) -> None:
    """2 processes × 2 pairs for 3 steps: the pooler (which mean pooling leaves without a gradient) does not stop
    DDP at step 2, both ranks end with the same weights, and those equal one process fed the same 4-pair batches."""
    module, _ = build(compose_train([], tmp_path / "init"))
    initial = {name: p.detach().clone() for name, p in module.named_parameters()}
    (single, [one]), (ddp, ranks) = train_steps(tmp_path, "cpu", GLOBAL_BATCH), train_steps(tmp_path, "ddp_cpu", 2)
    assert (single["world_size"], ddp["world_size"], len(ranks)) == (1, 2, 2)
    assert ddp["loss"] == pytest.approx(single["loss"], abs=1e-5)
    assert ddp["grad_norm"] == pytest.approx(single["grad_norm"], abs=1e-5)
    assert single["grad_norm"] > 1e-4  # a real gradient, not two zeros that trivially agree
    moved = max(float((one[name] - initial[name]).abs().max()) for name in one)
    assert moved > 1e-2  # three real steps, so agreement to 1e-5 below means something
    for name, weight in one.items():
        assert torch.equal(ranks[0][name], ranks[1][name]), name
        torch.testing.assert_close(ranks[0][name], weight, atol=1e-5, rtol=0, msg=name)
    pooler = [name for name in one if ".pooler." in name]
    assert len(pooler) == 2 and all(torch.equal(one[name], initial[name]) for name in pooler)  # frozen: unchanged


def ddp_cli(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/train.py", "trainer=ddp_cpu", "model=mpnet_tiny", "logger=csv",
         "trainer.precision=32-true",
         "export.enabled=false", "data.limit=16", "data.batch_size=2", f"hydra.run.dir={tmp_path / 'run'}",
         f"data.cache_dir={tmp_path / 'prepared'}", *overrides],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )


@pytest.mark.slow
def test_ddp_cpu_trains_and_tests_from_the_cli(tmp_path: Path) -> None:
    """Base test, fit and test each spawn their own workers; all stages reach metrics.csv and metrics.json.
    Odd split sizes: the distributed sampler pads with repeated pairs, which the metrics must not count."""
    run = tmp_path / "run"
    result = ddp_cli(tmp_path, "eval_base=true", "data.limits.val=7", "data.limits.test=9")  # one whole epoch
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    for stage in ("base", "val", "test"):  # logged in the spawned workers, recovered by the main process
        assert 0.0 <= metrics[f"{stage}/mse"] <= 1.0, sorted(metrics)
    assert (metrics["val/n"], metrics["test/n"], metrics["base/n"]) == (7, 9, 9)
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


@pytest.mark.slow
def test_ddp_cpu_worker_error_ends_as_in_one_process(tmp_path: Path) -> None:
    """A library's error in the workers (here the DataLoader refusing batch size 0) ends as it does in one process:
    the same exception line, not the spawned worker's whole traceback; that traceback goes to a file."""
    endings = {}
    for trainer_choice in ("cpu", "ddp_cpu"):
        result = ddp_cli(tmp_path / trainer_choice, f"trainer={trainer_choice}", "data.batch_size=0", "eval_base=false")
        assert result.returncode == 1, result.stderr[-3000:]
        endings[trainer_choice] = [line for line in result.stderr.splitlines() if line.startswith("ValueError")]
        assert "terminated with the following error" not in result.stderr
    assert endings["ddp_cpu"] == endings["cpu"] and len(endings["cpu"]) == 1, endings
    assert "batch_size=0" in endings["cpu"][0]
    assert "Traceback" in (tmp_path / "ddp_cpu" / "run" / "worker_traceback.txt").read_text()
