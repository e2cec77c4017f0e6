"""Reproducibility on CPU, in subprocesses: replaying a run from its saved config gives the same per-step
losses, and a run stopped by SIGTERM mid-epoch, then resumed from its checkpoint, ends with the weights
of an uninterrupted run bit for bit (AdamW and warm-up state, RNG, position in the shuffled epoch)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import pytest
import torch

from conftest import compose_train
from parasim.train import train
from test_wandb import TINY, finish, offline_run, start_cli

# 24 pairs in batches of 4: 6 steps per epoch, 2 epochs; the stop comes after step 9 (mid second epoch)
RUN = [*TINY, "test=false", "data.limit=24", "trainer.max_epochs=2", "optimizer=adamw", "optimizer.lr=1e-3",
       "scheduler=linear_warmup", "trainer.deterministic=true"]
STOP_AFTER = 9


class SignalAt(L.Callback):
    """Sends this process a signal once `step` optimizer steps are done: a `kill` at an exact point mid-epoch."""

    def __init__(self, step: int, signum: int = signal.SIGTERM) -> None:
        self.step = step
        self.signum = signum

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


def step_losses(run_dir: Path) -> dict[int, float]:
    frame = pd.read_csv(run_dir / "csv" / "metrics.csv").dropna(subset=["train/loss"])
    return dict(zip(frame["step"].astype(int), frame["train/loss"], strict=True))


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An uninterrupted run and the same run killed with SIGTERM after step 9 (side by side), then the
    resumption of the killed run and a replay of the uninterrupted one from its saved config."""
    cwd = tmp_path_factory.mktemp("resume")
    common = [*RUN, f"data.cache_dir={cwd / 'prepared'}"]
    dirs: dict[str, Any] = {name: cwd / name for name in ("full", "stopped", "resumed")}
    full = start_cli([*common, f"hydra.run.dir={dirs['full']}"], cwd)
    stopped = finish(start_cli([*common, f"hydra.run.dir={dirs['stopped']}", f"+callbacks.kill.step={STOP_AFTER}",
                                "+callbacks.kill._target_=test_resume.SignalAt"], cwd))
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr[-3000:]
    dirs["stopped_stderr"] = stopped.stderr
    checkpoint = dirs["stopped"] / "checkpoints" / "interrupted.ckpt"
    resumed = start_cli([*common, f"hydra.run.dir={dirs['resumed']}", f"ckpt_path={checkpoint}"], cwd)
    full_result = finish(full)
    assert full_result.returncode == 0, full_result.stderr[-3000:]
    replay_cwd = cwd / "replay"
    replay_cwd.mkdir()
    replay = finish(start_cli(["--config-dir", str(dirs["full"] / ".hydra"), "--config-name", "config",
                               "+hydra=default"], replay_cwd))
    assert replay.returncode == 0, replay.stderr[-3000:]
    (dirs["replay"],) = (replay_cwd / "outputs" / "train" / "runs").iterdir()  # a fresh dir
    resumed_result = finish(resumed)
    assert resumed_result.returncode == 0, resumed_result.stderr[-3000:]
    return dirs


def test_sigterm_mid_epoch_leaves_a_resumable_checkpoint_and_says_so(runs) -> None:
    stopped = runs["stopped"]
    checkpoint = stopped / "checkpoints" / "interrupted.ckpt"
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    assert state["global_step"] == STOP_AFTER and state["epoch"] == 1  # mid second epoch
    assert state["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"batches": STOP_AFTER - 6}]
    status = json.loads((stopped / "job_status.json").read_text())
    assert status["status"] == "interrupted" and status["signal"] == "SIGTERM"
    assert status["checkpoint"] == str(checkpoint)
    assert "interrupted by SIGTERM; resume with:" in runs["stopped_stderr"]
    assert f"ckpt_path={checkpoint}" in runs["stopped_stderr"]
    assert max(step_losses(stopped)) == STOP_AFTER - 1


def test_resumed_run_ends_with_the_uninterrupted_weights_bit_for_bit(runs) -> None:
    full = weights(runs["full"] / "checkpoints" / "last.ckpt")
    resumed = weights(runs["resumed"] / "checkpoints" / "last.ckpt")
    assert full.keys() == resumed.keys()
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    losses = step_losses(runs["full"])
    assert step_losses(runs["resumed"]) == {s: v for s, v in losses.items() if s >= STOP_AFTER}


def test_resumed_run_continues_the_same_wandb_run(runs) -> None:
    stopped, resumed = offline_run(runs["stopped"]), offline_run(runs["resumed"])
    assert stopped["id"] == resumed["id"] != offline_run(runs["full"])["id"]
    assert stopped["exit_code"] == 128 + signal.SIGTERM and resumed["exit_code"] == 0
    info = json.loads((runs["resumed"] / "run_info.json").read_text())
    assert info["resumed_from"] == str(runs["stopped"] / "checkpoints" / "interrupted.ckpt")


def test_replay_from_saved_config_gives_identical_step_losses(runs) -> None:
    original, replay = runs["full"], runs["replay"]
    assert step_losses(replay) == step_losses(original) and len(step_losses(replay)) == 12
    info = [json.loads((run / "run_info.json").read_text()) for run in (original, replay)]
    assert info[0]["data_fingerprint"] == info[1]["data_fingerprint"]


def test_ctrl_c_stops_after_the_batch_with_a_checkpoint(tmp_path: Path) -> None:
    cfg = compose_train(["data.limit=16", "export.enabled=false", "test=false", "~callbacks.progress_bar",
                         "+callbacks.kill._target_=test_resume.SignalAt", "+callbacks.kill.step=2",
                         f"+callbacks.kill.signum={int(signal.SIGINT)}"], tmp_path)

    def outer_handler(signum, frame) -> None:  # stands for pytest's Ctrl-C handler: the run must hand it back
        raise KeyboardInterrupt

    original = signal.signal(signal.SIGINT, outer_handler)
    try:
        with pytest.raises(SystemExit) as stop:
            train(cfg)
        restored = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, original)
    assert stop.value.code == 128 + signal.SIGINT
    state = torch.load(tmp_path / "checkpoints" / "interrupted.ckpt", map_location="cpu", weights_only=False)
    assert state["global_step"] == 2
    assert json.loads((tmp_path / "job_status.json").read_text())["signal"] == "SIGINT"
    assert restored is outer_handler  # the handler it found is back
