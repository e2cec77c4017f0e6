"""W&B per Hydra job, checked in the offline run files: a two-job multirun through the submitit launcher
(each job its own process, as on SLURM) in which one job fails.

Also the helpers the sweep and resume tests use: the CLI in a subprocess, and a reader of offline
`.wandb` files (a LevelDB-style log of protobuf records; wandb 0.31 ships no reader of its own).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from wandb.proto import wandb_internal_pb2

from conftest import ROOT

TESTS = Path(__file__).resolve().parent
TINY = ["model=mpnet_tiny", "trainer=cpu", "trainer.precision=32-true", "eval_base=false", "export=none"]
FAKE_KEY = "local-0123456789abcdef0123456789abcdef01234567"  # never sent: WANDB_MODE=offline


def start_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`scripts/train.py` with this interpreter, started in the background (a single-threaded process: two at
    once use both cores); W&B settings of the caller's shell removed, one thread (the same per-step results
    whatever the machine's load), tests/ importable (test callbacks)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    full_env = {**clean, "OMP_NUM_THREADS": "1", "WANDB_SILENT": "true",
                "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT / "src")]),  # this checkout's code, not another
                "WANDB_CONFIG_DIR": str(cwd / ".wandb-config"), "WANDB_CACHE_DIR": str(cwd / ".wandb-cache"),
                "WANDB_DATA_DIR": str(cwd / ".wandb-data"), **(env or {})}
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / "train.py"), *args], cwd=cwd, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=900)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return finish(start_cli(args, cwd, env))


def wandb_records(path: Path) -> list[wandb_internal_pb2.Record]:
    """Records of a `.wandb` file: a 7-byte file header, then 32 KiB blocks of chunks, each with a
    header (crc32 u32, length u16, kind u8: 1 full, 2 first, 3 middle, 4 last)."""
    data, block = path.read_bytes(), 32768
    assert data[:4] == b":W&B"
    records, pending, pos = [], b"", 7
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # the rest of a block too short for a chunk header is padding
            pos += block - pos % block
            continue
        length, kind = struct.unpack_from("<HB", data, pos + 4)
        pending += data[pos + 7: pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def offline_run(run_dir: Path) -> dict[str, Any]:
    """The single offline W&B run under `run_dir`: its identity, config, logged history and exit code."""
    files = list(run_dir.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(files) == 1, files
    run: dict[str, Any] = {"file": files[0], "config": {}, "history": [], "exit_code": None}
    for record in wandb_records(files[0]):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.update(id=record.run.run_id, group=record.run.run_group, name=record.run.display_name)
        elif kind == "config":
            run["config"].update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif kind == "history":
            run["history"].append({item.key or ".".join(item.nested_key): json.loads(item.value_json)
                                   for item in record.history.item})
        elif kind == "exit":
            run["exit_code"] = record.exit.exit_code
    return run


def logged(run: dict[str, Any], key: str) -> list[float]:
    return [row[key] for row in run["history"] if key in row]


@pytest.fixture(scope="module")
def failing_multirun(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    cwd = tmp_path_factory.mktemp("wandb_multirun")
    result = run_cli(["-m", "hydra/launcher=local", "optimizer.lr=5e-5,-1.0", *TINY, "data.limit=16",
                      f"data.cache_dir={cwd / 'prepared'}"], cwd,
                     env={"WANDB_MODE": "offline", "WANDB_API_KEY": FAKE_KEY})
    sweeps = list((cwd / "outputs" / "train" / "multiruns").iterdir())
    assert len(sweeps) == 1, result.stderr[-3000:]
    return result, sweeps[0]


def test_failed_job_fails_the_multirun_but_not_the_other_job(failing_multirun) -> None:
    result, sweep = failing_multirun
    assert result.returncode != 0
    assert "Invalid learning rate" in result.stderr
    assert list((sweep / ".submitit").glob("*/*_result.pkl")), "jobs did not go through submitit"
    report = pd.read_csv(sweep / "sweep_report.csv").set_index("swept")
    assert report.loc["optimizer.lr=5e-05", "status"] == "completed"
    assert report.loc["optimizer.lr=-1.0", "status"] == "failed"
    assert "Invalid learning rate" in report.loc["optimizer.lr=-1.0", "error"]
    assert 0.0 <= report.loc["optimizer.lr=5e-05", "test/roc_auc"] <= 1.0


def test_one_offline_run_per_job_grouped_named_and_finished(failing_multirun) -> None:
    _, sweep = failing_multirun
    good, bad = offline_run(sweep / "0"), offline_run(sweep / "1")
    assert good["file"].is_relative_to(sweep / "0") and bad["file"].is_relative_to(sweep / "1")
    assert good["id"] != bad["id"]
    assert good["group"] == bad["group"] == f"train-{sweep.name}"
    assert "optimizer.lr=5e-05" in good["name"] and "optimizer.lr=-1.0" in bad["name"]
    assert good["exit_code"] == 0
    assert bad["exit_code"] == 1  # marked failed, not "finished"
    for job, run in (("0", good), ("1", bad)):
        assert json.loads((sweep / job / "job_status.json").read_text())["wandb_run_id"] == run["id"]


def test_run_config_is_the_full_resolved_config(failing_multirun) -> None:
    _, sweep = failing_multirun
    config = offline_run(sweep / "0")["config"]
    assert {"model", "loss", "optimizer", "data", "trainer", "callbacks", "logger", "paths", "seed"} <= set(config)
    assert config["optimizer"]["lr"] == 5e-05
    assert config["paths"]["output_dir"] == str(sweep / "0")  # resolved, not ${hydra:...}
    assert config["logger"]["wandb"]["mode"] is None  # WANDB_MODE decides; the key is not copied


def test_metrics_are_logged_under_split_names(failing_multirun) -> None:
    _, sweep = failing_multirun
    run = offline_run(sweep / "0")
    assert logged(run, "train/loss") and logged(run, "val/roc_auc") and logged(run, "test/roc_auc")
    frame = pd.read_csv(sweep / "0" / "csv" / "metrics.csv")  # the CSV logger wrote alongside
    assert frame["train/loss"].dropna().tolist() == pytest.approx(logged(run, "train/loss"))


def test_api_key_is_written_nowhere(failing_multirun) -> None:
    _, sweep = failing_multirun
    leaks = [p for p in sweep.rglob("*") if p.is_file() and FAKE_KEY.encode() in p.read_bytes()]
    assert not leaks
