"""The sweep report over seeds and folds, on fabricated sweep dirs (what jobs leave: `.hydra/overrides.yaml`,
`job_status.json`, `metrics.json`): settings grouped, mean ± std and a 95 % t-interval with n."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from parasim.runs import write_status
from parasim.sweeps import write_report


def fabricate(sweep: Path, jobs: list[tuple[list[str], str, dict[str, float | None]]]) -> Path:
    for number, (overrides, status, metrics) in enumerate(jobs):
        job = sweep / str(number)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        write_status(job, status, wall_s=1.0 + number)
        if metrics:
            (job / "metrics.json").write_text(json.dumps(metrics))
    return sweep


def t_interval(values: list[float]) -> tuple[float, float, float, float]:
    """mean, std (ddof 1) and the 95 % t-interval, written out independently of the code under test."""
    mean, std, n = float(np.mean(values)), float(np.std(values, ddof=1)), len(values)
    half = stats.t.ppf(0.975, df=n - 1) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


AUC = {("1e-05", 1): 0.70, ("1e-05", 2): 0.74, ("1e-05", 3): 0.69, ("5e-05", 1): 0.81, ("5e-05", 2): 0.86,
       ("5e-05", 3): 0.80}


@pytest.fixture
def seed_sweep(tmp_path: Path) -> Path:
    """2 learning rates × 3 seeds, plus a failed job and a job whose val/roc_auc is undefined (null)."""
    jobs = [([f"optimizer.lr={lr}", f"seed={seed}", "model=mpnet_tiny"], "completed",
             {"val/roc_auc": auc, "val/mse": 1 - auc, "test/roc_auc": auc - 0.01, "val/n": 48.0,
              "val/mtmp_pan/roc_auc": auc}) for (lr, seed), auc in AUC.items()]
    jobs.append((["optimizer.lr=5e-05", "seed=4", "model=mpnet_tiny"], "failed", {}))
    jobs.append((["optimizer.lr=1e-03", "seed=1", "model=mpnet_tiny"], "completed", {"val/roc_auc": None,
                                                                                      "val/mse": 0.4}))
    return fabricate(tmp_path / "sweep", jobs)


def test_jobs_differing_only_in_seed_are_aggregated_with_a_t_interval(seed_sweep: Path) -> None:
    write_report(seed_sweep, "val/roc_auc")
    table = pd.read_csv(seed_sweep / "sweep_report_aggregate.csv")
    assert list(dict.fromkeys(table["setting"])) == ["optimizer.lr=1e-05", "optimizer.lr=5e-05", "optimizer.lr=1e-03"]
    for lr in ("1e-05", "5e-05"):
        row = table[(table["setting"] == f"optimizer.lr={lr}") & (table["metric"] == "val/roc_auc")].iloc[0]
        mean, std, low, high = t_interval([AUC[lr, seed] for seed in (1, 2, 3)])
        assert row["n"] == 3  # the failed job (seed 4) is not counted
        assert (row["mean"], row["std"], row["ci_low"], row["ci_high"]) == pytest.approx((mean, std, low, high))
    lonely = table[table["setting"] == "optimizer.lr=1e-03"].set_index("metric")
    assert lonely.loc["val/roc_auc", "n"] == 0 and lonely.loc["val/mse", "n"] == 1
    assert math.isnan(lonely.loc["val/mse", "std"]) and math.isnan(lonely.loc["val/mse", "ci_low"])
    assert {"val/mse", "test/roc_auc", "val/mtmp_pan/roc_auc"} <= set(table["metric"])

    markdown = (seed_sweep / "sweep_report.md").read_text()
    mean, std, low, high = t_interval([AUC["5e-05", seed] for seed in (1, 2, 3)])
    assert "## Over seeds and folds" in markdown
    assert f"Best setting by mean `val/roc_auc` (max): `optimizer.lr=5e-05` = {mean:.4f} ± {std:.4f}" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| optimizer.lr=5e-05 |"))
    assert row.startswith("| optimizer.lr=5e-05 | 3 4 5 | 3 |") and f"[{low:.4f}, {high:.4f}]" in row
    assert "val/mtmp_pan/roc_auc" not in markdown.split("## Jobs")[0]  # subsets only in the CSV
    assert markdown.count("| completed |") == 7 and "| failed |" in markdown  # the per-job table is still there


def test_seeds_times_folds_form_one_setting_per_other_override(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = {(seed, fold): float(rng.uniform(0.7, 0.9)) for seed in (1, 2) for fold in range(5)}
    jobs = [(["data.folds=5", f"data.fold={fold}", f"+seed={seed}"], "completed", {"val/roc_auc": v})
            for (seed, fold), v in values.items()]
    write_report(fabricate(tmp_path / "sweep", jobs), "val/roc_auc")
    table = pd.read_csv(tmp_path / "sweep" / "sweep_report_aggregate.csv")
    assert table["setting"].tolist() == ["(all jobs)"]
    mean, std, low, high = t_interval(list(values.values()))
    assert table.iloc[0][["n", "mean", "std", "ci_low", "ci_high"]].tolist() == pytest.approx([10, mean, std, low,
                                                                                               high])


def test_sweeps_without_seeds_or_folds_get_no_aggregate(tmp_path: Path) -> None:
    jobs = [([f"optimizer.lr={lr}", "seed=7"], "completed", {"val/roc_auc": 0.8}) for lr in ("1e-05", "5e-05")]
    sweep = fabricate(tmp_path / "sweep", jobs)
    write_report(sweep, "val/roc_auc")
    assert (sweep / "sweep_report.md").is_file() and not (sweep / "sweep_report_aggregate.csv").exists()
    assert "Over seeds and folds" not in (sweep / "sweep_report.md").read_text()
    assert "setting" not in pd.read_csv(sweep / "sweep_report.csv")
