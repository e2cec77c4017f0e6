"""Failing early and clearly: config errors, unusable disks, broken checkpoints, NaN losses, killed writes,
secrets. Everything goes through the real `scripts/train.py` in a subprocess, as a user would run it."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from safetensors.torch import load_file
from torch import nn
from torch.multiprocessing import ProcessRaisedException
from torch.utils.data import DataLoader

from conftest import ROOT, compose_train
from parasim.callbacks import NanGuard, NonFiniteLossError
from parasim.errors import ParasimError, WorkerError, worker_exception, worker_user_error
from parasim.reliability.overrides import type_problem
from parasim.reliability.preflight import check_checkpoint, check_model_files, check_output_dir
from parasim.reliability.secrets import check_no_secrets
from parasim.train import build, cli

QUICK = ["model=mpnet_tiny", "logger=csv", "trainer.precision=32-true", "trainer=cpu", "eval_base=false", "test=false",
         "export.enabled=false", "data.limit=16", "trainer.max_steps=2"]


def train_cli(tmp_path: Path, *overrides: str, env: dict[str, str] | None = None,
              prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    run = tmp_path / "run"
    command = [sys.executable, "scripts/train.py", *QUICK, f"hydra.run.dir={run}",
               f"data.cache_dir={tmp_path / 'prepared'}", *overrides]
    return subprocess.run((prefix or []) + command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def train_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                     *overrides: str) -> subprocess.CompletedProcess:
    """`scripts/train.py` for runs that stop before training: the same `cli()`, minus the interpreter start."""
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(HydraConfig.instance(), "cfg", HydraConfig.instance().cfg)  # Hydra leaves it set
    monkeypatch.setattr(sys, "argv", ["scripts/train.py", *QUICK, f"hydra.run.dir={tmp_path / 'run'}",
                                      f"data.cache_dir={tmp_path / 'prepared'}", *overrides])
    with pytest.raises(SystemExit) as stopped:
        cli()
    out = capsys.readouterr()
    return subprocess.CompletedProcess(sys.argv, stopped.value.code, out.out, out.err)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The run failed with exit 2 and exactly one `error:` line, and no traceback anywhere."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-3000:]
    return errors[0]


def truncated_checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": {"w": torch.arange(50_000.0)}, "global_step": 3}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


CUDA = torch.cuda.is_available()
CONFIG_ERRORS = [
    # (overrides, text the one error line must contain)
    (["seed=abc"], "seed='abc' is not an integer"),
    (["trainer.max_epochs=1.5"], "trainer.max_epochs=1.5 is not an integer"),
    (["eval_base=maybe"], "eval_base='maybe' is not true or false"),
    pytest.param(["trainer.precision=16-mixed"], "needs a CUDA GPU", marks=pytest.mark.skipif(CUDA, reason="has CUDA")),
    pytest.param(["trainer=gpu"], "trainer=cpu", marks=pytest.mark.skipif(CUDA, reason="has CUDA")),
    (["model=mpnet_base", "model.path={tmp}"], "make weights"),
    (["ckpt_path={tmp}/missing.ckpt"], "does not exist"),
    (["ckpt_path={corrupt}"], "corrupt or truncated"),
    (["+logger.csv.api_key=abcdefgh1234"], "logger.csv.api_key: a secret in the config"),
]


@pytest.mark.parametrize(("overrides", "expected"), CONFIG_ERRORS,
                         ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_config_error_is_one_line_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture, overrides: list[str],
                                                       expected: str) -> None:
    corrupt = truncated_checkpoint(tmp_path)
    result = train_in_process(tmp_path, monkeypatch, capsys,
                              *(o.format(tmp=tmp_path, corrupt=corrupt) for o in overrides))
    assert expected in one_error_line(result)
    assert not (tmp_path / "run" / "csv").exists()  # no training step was logged


@pytest.mark.parametrize(("override", "expected"), [
    ("model=mpnet_huge", ["Could not find 'model/mpnet_huge'", "mpnet_base", "mpnet_tiny"]),
    ("trainer.max_epoch=1", ["Could not override 'trainer.max_epoch'", "+trainer.max_epoch=1"]),
])
def test_hydra_config_errors_name_the_choices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture, override: str, expected: list[str]) -> None:
    """Hydra's own messages for an unknown group option or key: short, the valid options, no traceback."""
    result = train_in_process(tmp_path, monkeypatch, capsys, override)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert all(text in result.stderr for text in expected), result.stderr


def _user_namespaces() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not _user_namespaces(), reason="needs `unshare -rm` to mount a private tmpfs")
@pytest.mark.parametrize(("mount_options", "expected"), [
    ("ro,size=4m", "is not writable (Read-only file system"),
    ("size=1m", "only 1.0 MiB free on its disk, but this run needs about 64.0 MiB"),
])
def test_read_only_or_full_output_disk_fails_at_start(tmp_path: Path, mount_options: str, expected: str) -> None:
    """A real read-only / nearly full filesystem (a tmpfs in a private mount namespace) as the output disk."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = 'mount -t tmpfs -o "$1" parasim-test "$2" && shift 2 && exec "$@"'
    result = train_cli(disk, prefix=["unshare", "-rm", "sh", "-c", mount, "sh", mount_options, str(disk)])
    assert expected in one_error_line(result)


def test_output_dir_checks(tmp_path: Path) -> None:
    check_output_dir(tmp_path / "new" / "run")  # a writable disk passes and nothing is left behind
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParasimError, match="is a file, not a directory"):
        check_output_dir(tmp_path / "file" / "run")


def test_checkpoint_checks(tmp_path: Path) -> None:
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.arange(50_000.0)}}, good)
    check_checkpoint(good)
    check_checkpoint("last")  # Lightning's own names are left to Lightning
    flipped = bytearray(good.read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF  # inside the tensor data: the zip directory still reads
    (tmp_path / "flipped.ckpt").write_bytes(bytes(flipped))
    with pytest.raises(ParasimError, match="CRC"):
        check_checkpoint(tmp_path / "flipped.ckpt")
    with pytest.raises(ParasimError, match="is a directory"):
        check_checkpoint(tmp_path)


def test_pickle_only_weights_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ParasimError, match="only pytorch_model.bin"):
        check_model_files(OmegaConf.create({"path": str(tmp_path)}))


def test_type_problem() -> None:
    assert type_problem("optimizer.lr", 5e-5, 1) is None  # an int is a fine float
    assert type_problem("data.limit", None, "x") is None  # no typed default: nothing to compare
    assert type_problem("trainer.devices", 1, "auto") is None  # Lightning takes several types here
    assert type_problem("trainer.gradient_clip_val", 2.0, None) is None  # null switches a feature off
    assert "not an integer" in type_problem("seed", 42, True)


def test_secrets_in_config_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "dummy-secret-123")
    check_no_secrets(OmegaConf.create({"data": {"batch_tokens": 8192}, "logger": {"token_budget": 3}}))
    for bad in ({"logger": {"wandb": {"api_key": "abc"}}}, {"tags": ["dummy-secret-123"]},
                {"x": "${oc.env:WANDB_API_KEY}"}):
        with pytest.raises(ParasimError, match="secret"):
            check_no_secrets(OmegaConf.create(bad))


def test_wandb_key_never_lands_in_run_files(tmp_path: Path) -> None:
    """W&B offline run with the key in the environment and an export: no saved byte holds the key."""
    secret = "dummy-secret-123"
    result = train_cli(tmp_path, "logger=wandb", "export.enabled=true",
                       env={"WANDB_API_KEY": secret, "WANDB_MODE": "offline"})
    assert result.returncode == 0, result.stderr[-3000:]
    run = tmp_path / "run"
    assert list(run.glob("wandb/offline-run-*")) and (run / "export" / "README.md").is_file()
    assert (run / ".hydra" / "config.yaml").is_file() and (run / "csv" / "hparams.yaml").is_file()
    files = [Path(d) / f for d, _, names in os.walk(run) for f in names]
    leaks = [f for f in files if not f.is_symlink() and secret.encode() in f.read_bytes()]
    assert leaks == []
    assert secret not in result.stdout + result.stderr


def test_nan_loss_stops_with_message_and_last_good_checkpoint(tmp_path: Path) -> None:
    """lr=1e30 makes the weights overflow after one step: the guard stops at the NaN loss that follows."""
    result = train_cli(tmp_path, "optimizer.lr=1e30", "trainer.max_steps=6")
    line = one_error_line(result)
    assert "the training loss is nan" in line and "last_good.ckpt" in line
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last_good.ckpt", weights_only=False)
    weights = checkpoint["state_dict"]
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())
    cfg = compose_train(["data.limit=16"], tmp_path / "check")
    module, datamodule = build(cfg)
    module.load_state_dict(weights)
    datamodule.setup()
    batch = next(iter(datamodule.train_dataloader()))
    assert math.isfinite(float(module.loss_fn(batch, batch.labels).detach()))  # "good" means: gives a finite loss
    with (tmp_path / "run" / "csv" / "metrics.csv").open() as handle:
        logged = [r["train/loss"] for r in csv.DictReader(handle) if r.get("train/loss")]
    assert logged and all(math.isfinite(float(v)) for v in logged)  # no NaN reached the logs


def worker_trace(last_line: str) -> ProcessRaisedException:
    trace = ("\n\n-- Process 1 terminated with the following error:\nTraceback (most recent call last):\n"
             '  File "x.py", line 3, in step\n    raise Oops("a: b")\n' + last_line + "\n")
    return ProcessRaisedException(trace, 1, 4242)


def test_worker_errors_are_recovered_only_for_parasim_classes() -> None:
    """A DDP worker's ParasimError comes back as itself; other errors (or unknown classes) stay tracebacks."""
    found = worker_user_error(worker_trace(
        "parasim.callbacks.nan_guard.NonFiniteLossError: the training loss is nan at step 3: see last_good.ckpt"))
    assert isinstance(found, NonFiniteLossError)
    assert str(found) == "the training loss is nan at step 3: see last_good.ckpt"
    for line in ("ValueError: bad", "torch.OutOfMemoryError: CUDA out of memory", "parasim.nowhere.Error: x"):
        assert worker_user_error(worker_trace(line)) is None
    assert worker_user_error(ValueError("parasim.errors.ParasimError: x")) is None  # only torch's worker exception


def test_any_worker_error_ends_as_in_one_process() -> None:
    """Not the whole worker traceback: the worker's error itself, its class where it is a builtin."""
    user = worker_exception(worker_trace("parasim.callbacks.nan_guard.NonFiniteLossError: the loss is nan"))
    assert isinstance(user, NonFiniteLossError) and str(user) == "the loss is nan"
    builtin = worker_exception(worker_trace("RuntimeError: It looks like your LightningModule has parameters that "
                                            "were not used in producing the loss"))
    assert type(builtin) is RuntimeError and str(builtin).startswith("It looks like your LightningModule")
    other = worker_exception(worker_trace("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB"))
    assert isinstance(other, WorkerError) and str(other) == "torch.OutOfMemoryError: CUDA out of memory. Tried to " \
                                                            "allocate 2 GiB"
    assert worker_exception(ValueError("RuntimeError: x")) is None  # only torch's worker exception carries one


class InfiniteGradient(L.LightningModule):
    """A finite loss (0) whose gradient is infinite: d/dw sqrt(w - w) at 0."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        return torch.sqrt((self.w - self.w.detach()).sum()) + batch.sum() * 0

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(torch.zeros(8, 1), batch_size=2)


def test_nan_guard_stops_on_an_infinite_gradient_before_the_step(tmp_path: Path) -> None:
    trainer = L.Trainer(accelerator="cpu", max_steps=4, callbacks=[NanGuard()], default_root_dir=tmp_path,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False)
    with pytest.raises(NonFiniteLossError, match="gradient norm is inf at step 0"):
        trainer.fit(InfiniteGradient())
    saved = torch.load(tmp_path / "checkpoints" / "last_good.ckpt", weights_only=False)
    assert torch.equal(saved["state_dict"]["w"], torch.ones(3))  # the bad update was never applied


KILLED_JSON_WRITE = """
import resource, signal, sys
from parasim.utils.files import write_json_atomic
write_json_atomic(sys.argv[1], {"version": 1})
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores SIGXFSZ; by default the kernel kills the writer
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))
write_json_atomic(sys.argv[1], {"version": 2, "payload": "x" * (1 << 20)})
"""

KILLED_EXPORT = """
import resource, signal, sys
import torch
from parasim.export.st_format import export_sentence_transformer
from parasim.models.encoder import build_tiny
from parasim.weights import model_dir
encoder = build_tiny(model_dir())
export_sentence_transformer(encoder, sys.argv[1], "card version 1")
with torch.no_grad():
    encoder.transformer.embeddings.word_embeddings.weight.add_(1.0)
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))  # below the size of model.safetensors
export_sentence_transformer(encoder, sys.argv[1], "card version 2")
"""


def kill_mid_write(script: str, target: Path) -> None:
    """Run `script`, which the kernel kills (SIGXFSZ) in the middle of its second write of `target`."""
    result = subprocess.run([sys.executable, "-c", script, str(target)], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == -signal.SIGXFSZ, result.stderr[-3000:]
    assert [p.name for p in target.parent.iterdir() if not p.name.startswith(".")] == [target.name]


def test_killed_metrics_write_leaves_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    kill_mid_write(KILLED_JSON_WRITE, target)
    assert json.loads(target.read_text()) == {"version": 1}


def test_killed_export_leaves_the_previous_export(tmp_path: Path) -> None:
    target = tmp_path / "export"
    kill_mid_write(KILLED_EXPORT, target)
    assert "card version 1" in (target / "README.md").read_text()
    from parasim.models.encoder import build_tiny
    from parasim.weights import model_dir

    first = build_tiny(model_dir()).transformer.embeddings.word_embeddings.weight
    saved = load_file(target / "model.safetensors")  # reads completely: header and every tensor
    assert torch.equal(next(v for k, v in saved.items() if k.endswith("word_embeddings.weight")), first)
