"""Real Lightning runs with the tiny MPNet: fast_dev_run per loss, and the CLI as users call it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from parasim.train import train


@pytest.mark.parametrize("loss", ["sef1_mse", "cosine_mse"])
def test_fast_dev_run_each_loss(loss: str, train_cfg, tmp_path: Path) -> None:
    cfg = train_cfg([f"loss={loss}", "trainer.fast_dev_run=true", "data.limit=8", "export.enabled=false"])
    metrics = train(cfg)
    for key in ("test/mse", "test/roc_auc", "val/mse"):
        assert key in metrics and metrics[key] == metrics[key]  # present and not NaN
    assert 0.0 <= metrics["test/mse"] <= 1.0
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test/mse"] == pytest.approx(metrics["test/mse"])


def test_train_updates_weights_and_exports(train_cfg, tmp_path: Path) -> None:
    cfg = train_cfg(["trainer.max_steps=3", "data.limit=12", "optimizer=adamw", "optimizer.lr=1e-3"])
    from parasim.train import build

    before = {k: v.clone() for k, v in build(cfg)[0].encoder.state_dict().items()}
    train(cfg)
    export = tmp_path / "export"
    for name in ("modules.json", "model.safetensors", "1_Pooling/config.json", "sentence_bert_config.json",
                 "config_sentence_transformers.json", "README.md", "tokenizer.json"):
        assert (export / name).is_file(), name
    assert (export / "2_Normalize").is_dir()
    from parasim.models.encoder import load_pretrained

    after = load_pretrained(export).state_dict()
    assert any(not after[k].equal(before[k]) for k in before if k in after)
    card = (export / "README.md").read_text()
    assert "library_name: sentence-transformers" in card
    assert "pipeline_tag: sentence-similarity" in card
    assert "loss:SEF1MSE" in card


def run_cli(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", **(env or {})}
    return subprocess.run([sys.executable, "scripts/train.py", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=600)


def test_cli_seed_card_tiny_two_steps(tmp_path: Path) -> None:
    result = run_cli("experiment=seed_card", "model=mpnet_tiny", "trainer.max_steps=2", "data.limit=8",
                     "eval_base=false", "export.enabled=false", f"paths.log_dir={tmp_path}",
                     f"data.cache_dir={tmp_path}/prepared")
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "train" / "runs").iterdir())
    assert len(runs) == 1
    run = runs[0]
    assert (run / ".hydra" / "config.yaml").is_file() and (run / "config_tree.log").is_file()
    assert "optimizer" in result.stdout and "CONFIG" in result.stdout  # the config tree was printed
    metrics = json.loads((run / "metrics.json").read_text())
    assert "test/roc_auc" in metrics


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["trainer.precision=16-mixed", "model=mpnet_tiny"], {}, "16-mixed needs a CUDA GPU"),
        (["model=mpnet_huge"], {}, "Could not find 'model/mpnet_huge'"),
        (["trainer.max_epoch=1"], {}, "max_epoch"),
        (["model=mpnet_base"], {"PARASIM_CACHE": "/nonexistent/parasim-cache"}, "make weights"),
    ],
    ids=["fp16-on-cpu", "unknown-group-choice", "misspelt-key", "missing-weights-cache"],
)
def test_bad_setup_ends_with_one_clear_message(args, env, expected, tmp_path: Path) -> None:
    result = run_cli(*args, "logger=csv", f"paths.log_dir={tmp_path}", env=env)
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_a_run_compares_the_tuned_model_with_its_base(train_cfg, tmp_path: Path) -> None:
    """eval_base: the run's test split and the held-out checks (STS-b here, capped) scored before and after
    training, each tuned − base with a paired-bootstrap interval, in metrics.json and versus_base.md."""
    metrics = train(train_cfg(["eval_base=true", "data.limit=16", "trainer.max_steps=4", "optimizer=adamw",
                               "optimizer.lr=1e-3", "suite.sets.stsb.limit=60", "export.enabled=false"]))
    for key in ("test/tuned-base/mse", "test/tuned-base/roc_auc", "stsb/tuned-base/spearman"):
        low, diff, high = (metrics[f"{key}_{end}"] for end in ("low", "diff", "high"))
        assert low <= diff <= high, key
    assert metrics["test/tuned-base/mse_diff"] == pytest.approx(metrics["test/mse"] - metrics["base/mse"], abs=1e-6)
    assert metrics["stsb/tuned/spearman"] != metrics["stsb/base/spearman"]  # the weights moved between the two
    report = (tmp_path / "versus_base.md").read_text()
    assert "this run's test split" in report and "STS-b" in report and "Δ tuned − base" in report
