"""Real multiruns of the tiny model in subprocesses: a 2×2 grid stopped by max_steps mid-epoch (the smoke sweep;
basic launcher, W&B offline by default), a 2-trial Optuna study in which one trial crashes, and a study killed
mid-trial, then resumed by rerunning into its sweep dir."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import lightning as L
import optuna
import pandas as pd
import pytest
import yaml
from hydra.core.hydra_config import HydraConfig

from test_wandb import TINY, finish, logged, offline_run, start_cli

GRID = ["optimizer.lr=1e-5,5e-5", "loss=sef1_mse,cosine_mse"]
# 8 pairs, 2 steps a trial; the first invocation is killed in its second trial
STUDY = ["-m", "hparams_search=optuna", "hydra.sweeper.n_trials=2", "logger=csv", *TINY, "data.limit=8"]


class SignalInJob(L.Callback):
    """SIGTERM to this process once job `job` of the multirun has done `step` steps: a study killed mid-trial."""

    def __init__(self, job: int, step: int = 1) -> None:
        self.job = job
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        if HydraConfig.get().job.num == self.job and trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def only_sweep(cwd: Path, result: subprocess.CompletedProcess) -> Path:
    sweeps = list((cwd / "outputs" / "train" / "multiruns").iterdir())
    assert len(sweeps) == 1, result.stderr[-3000:]
    return sweeps[0]


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Side by side: the 2×2 grid, 2 of 4 steps a job (as `-m … trainer.max_steps=2`, a quick smoke sweep); a
    2-trial Optuna study in which the grid sampler visits both values and lr=-1 makes the optimizer raise inside
    the fit; and the first invocation of a study that SIGTERM stops in its second trial."""
    cwd = {name: tmp_path_factory.mktemp(name) for name in ("grid", "optuna", "study")}
    started = {
        "grid": start_cli(["-m", *GRID, *TINY, "data.limit=16", "trainer.max_steps=2",
                           f"data.cache_dir={cwd['grid'] / 'prepared'}"], cwd["grid"]),
        "study": start_cli([*STUDY, f"hydra.sweep.dir={cwd['study'] / 'study'}", "+callbacks.kill.job=1",
                            "+callbacks.kill._target_=test_sweeps.SignalInJob",
                            f"data.cache_dir={cwd['study'] / 'prepared'}"], cwd["study"]),
        "optuna": start_cli(["-m", "hparams_search=optuna", "hydra/sweeper/sampler=grid", "hydra.sweeper.params=null",
                             "optimizer.lr=choice(5e-5,-1.0)", "hydra.sweeper.n_trials=2", "logger=csv", *TINY,
                             "data.limit=16", f"data.cache_dir={cwd['optuna'] / 'prepared'}"], cwd["optuna"]),
    }
    results = {name: finish(process) for name, process in started.items()}
    return {name: (result, cwd[name] / "study" if name == "study" else only_sweep(cwd[name], result))
            for name, result in results.items()}


@pytest.fixture(scope="module")
def grid(sweeps) -> Path:
    result, sweep = sweeps["grid"]
    assert result.returncode == 0, result.stderr[-3000:]
    return sweep


def test_grid_runs_four_jobs_in_their_own_dirs(grid: Path) -> None:
    jobs = sorted(p for p in grid.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in jobs] == ["0", "1", "2", "3"]
    swept = set()
    for job in jobs:
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        swept.add(tuple(o for o in overrides if o.startswith(("optimizer.lr=", "loss="))))
        assert (job / ".hydra" / "config.yaml").is_file()
        assert json.loads((job / "job_status.json").read_text())["status"] == "completed"
        info = json.loads((job / "run_info.json").read_text())
        assert info["parasim_version"] and info["data_fingerprint"] and info["seed"] == 42
        assert "git_commit" in info
        assert "val/roc_auc" in json.loads((job / "metrics.json").read_text())  # validated at max_steps, mid-epoch
        assert (job / "checkpoints" / "last.ckpt").is_file()
        assert (job / "checkpoints" / "epoch_000-step_2.ckpt").is_file()  # the best checkpoint, used by test
    assert len(swept) == 4


def test_each_job_has_its_own_offline_wandb_run_with_its_metrics(grid: Path) -> None:
    runs = [offline_run(grid / str(i)) for i in range(4)]
    assert len({r["id"] for r in runs}) == 4
    assert {r["group"] for r in runs} == {f"train-{grid.name}"}
    for i, run in enumerate(runs):
        overrides = yaml.safe_load((grid / str(i) / ".hydra" / "overrides.yaml").read_text())
        assert all(o in run["name"] for o in overrides if o.startswith(("optimizer.lr=", "loss=")))
        assert run["exit_code"] == 0
        losses = logged(run, "train/loss")
        assert len(losses) == 2  # 2 of the 4 steps (16 pairs, batches of 4)
        csv = pd.read_csv(grid / str(i) / "csv" / "metrics.csv")
        assert csv["train/loss"].dropna().tolist() == pytest.approx(losses)
        metrics = json.loads((grid / str(i) / "metrics.json").read_text())
        assert logged(run, "val/roc_auc")[-1] == pytest.approx(metrics["val/roc_auc"])
        assert logged(run, "test/mse")[-1] == pytest.approx(metrics["test/mse"])


def test_sweep_report_has_one_row_per_job(grid: Path) -> None:
    report = pd.read_csv(grid / "sweep_report.csv")
    assert len(report) == 4
    assert set(report["swept"]) == {f"optimizer.lr={lr} loss={loss}" for lr in ("1e-05", "5e-05")
                                    for loss in ("sef1_mse", "cosine_mse")}
    assert (report["status"] == "completed").all()
    assert (report["wall_s"] > 0).all()
    for column in ("val/roc_auc", "val/mse", "test/roc_auc", "test/mse"):
        assert report[column].between(0, 1).all(), column
    for _, row in report.iterrows():
        metrics = json.loads((grid / str(row["job"]) / "metrics.json").read_text())
        assert row["test/mse"] == pytest.approx(metrics["test/mse"])
    markdown = (grid / "sweep_report.md").read_text()
    assert markdown.count("| completed |") == 4 and "Best by `val/roc_auc`" in markdown
    assert (grid / "sweep_report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_optuna_study_survives_a_crashing_trial(sweeps) -> None:
    result, sweep = sweeps["optuna"]
    assert result.returncode == 0, result.stderr[-3000:]
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_params"] == {"optimizer.lr": 5e-05}
    assert 0.0 <= best["best_value"] <= 1.0
    assert "the sweeper gets failed_trial_value=0.0" in result.stdout + result.stderr
    report = pd.read_csv(sweep / "sweep_report.csv").set_index("swept")
    assert report.loc["optimizer.lr=5e-05", "status"] == "completed"
    assert report.loc["optimizer.lr=-1.0", "status"] == "failed"


@pytest.fixture(scope="module")
def resumed_study(sweeps) -> tuple[Path, bytes]:
    """The killed study, rerun with the same command into its sweep dir (job 0's metrics as they were before)."""
    killed, sweep = sweeps["study"]
    assert killed.returncode == 128 + signal.SIGTERM, killed.stderr[-3000:]
    before = (sweep / "0" / "metrics.json").read_bytes()
    cwd = sweep.parent
    resumed = finish(start_cli([*STUDY, f"hydra.sweep.dir={sweep}", f"data.cache_dir={cwd / 'prepared'}"], cwd))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "study train resumed: 1 of 2 trials finished" in resumed.stdout + resumed.stderr
    return sweep, before


def test_an_interrupted_study_resumes_where_it_stopped(resumed_study) -> None:
    """Trial 0 finished, trial 1 was killed: the rerun marks 1 failed, runs one new trial (2) with other random
    parameters than trial 0 (the sampler is reseeded), in job dir 2, and leaves job 0 alone."""
    sweep, job0_metrics = resumed_study
    study = optuna.load_study(study_name="train", storage=f"sqlite:///{sweep / 'optuna.db'}")
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]
    assert study.trials[2].params != study.trials[0].params
    assert (sweep / "0" / "metrics.json").read_bytes() == job0_metrics
    assert [json.loads((sweep / str(i) / "job_status.json").read_text())["status"] for i in range(3)] == [
        "completed", "interrupted", "completed"]
    auc = json.loads((sweep / "2" / "metrics.json").read_text())["val/roc_auc"]
    assert study.trials[2].value == pytest.approx(0.0 if auc is None else auc)  # undefined: failed_trial_value
    assert len(pd.read_csv(sweep / "sweep_report.csv")) == 3
    assert yaml.safe_load((sweep / "optimization_results.yaml").read_text())["best_value"] == study.best_value
