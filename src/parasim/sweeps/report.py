"""The sweep report: one row per job dir (overrides, status, final val/test metrics, wall time).

Read from what every job leaves in its dir (`.hydra/overrides.yaml`, `job_status.json`,
`metrics.json`), so the report is the same whichever launcher ran the jobs, and it can be rebuilt
any time: `python -m parasim.sweeps <sweep dir> [metric] [max|min]`. When jobs differ in `seed` and/or
`data.fold`, the jobs of each setting are also aggregated (mean ± std, 95 % t-interval; `aggregate.py`) in the
Markdown and in `sweep_report_aggregate.csv`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from parasim.runs import read_status
from parasim.sweeps.aggregate import aggregate, has_repeats, setting_of
from parasim.sweeps.aggregate import to_markdown as aggregate_markdown
from parasim.utils.files import write_text_atomic

REPORT = "sweep_report"
AGGREGATE = f"{REPORT}_aggregate"
METRIC_SPLITS = ("val", "test")


def job_dirs(sweep_dir: Path) -> list[Path]:
    dirs = [p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml")]
    return sorted(dirs, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))


def job_row(job_dir: Path) -> dict[str, Any]:
    status = read_status(job_dir)
    metrics_path = job_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    return {
        "job": job_dir.name,
        "overrides": list(OmegaConf.load(job_dir / ".hydra" / "overrides.yaml")),
        "status": status["status"],
        **{k: (math.nan if v is None else v) for k, v in sorted(metrics.items()) if k.split("/")[0] in METRIC_SPLITS},
        "wall_s": status.get("wall_s"),
        "wandb_run_id": status.get("wandb_run_id"),
        "error": status.get("error"),
    }


def collect(sweep_dir: str | Path, metric: str) -> pd.DataFrame:
    """The table: `swept` holds the overrides that differ between jobs, `overrides` all of them; the sweep
    metric is the first metric column (NaN for jobs that did not produce it)."""
    rows = [job_row(d) for d in job_dirs(Path(sweep_dir))]
    if not rows:
        return pd.DataFrame()
    common = set.intersection(*(set(r["overrides"]) for r in rows)) if len(rows) > 1 else set()
    for row in rows:
        row["swept"] = " ".join(o for o in row["overrides"] if o not in common)
        row["setting"] = setting_of(row["overrides"], common)
    repeats = has_repeats([row["overrides"] for row in rows])
    for row in rows:
        row["overrides"] = " ".join(row["overrides"])
    frame = pd.DataFrame(rows)
    if not repeats:
        frame = frame.drop(columns="setting")
    if metric not in frame:
        frame[metric] = math.nan
    front = ["job", "swept", "status", metric]
    return frame[front + [c for c in frame.columns if c not in front]]


def best_row(frame: pd.DataFrame, metric: str, mode: str) -> pd.Series | None:
    scored = frame[(frame["status"] == "completed") & frame[metric].notna()]
    if scored.empty:
        return None
    return scored.loc[scored[metric].idxmax() if mode == "max" else scored[metric].idxmin()]


def _cell(value: Any, column: str) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.0f}" if column.endswith("/n") else f"{value:.4f}"
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def metric_columns(frame: pd.DataFrame, metric: str) -> list[str]:
    """The sweep metric first, then every `val/…` and `test/…` column."""
    return [metric, *(c for c in frame.columns if c.split("/")[0] in METRIC_SPLITS and c != metric)]


def summary_columns(metrics: list[str]) -> list[str]:
    """What the aggregated Markdown table shows: overall metrics (`val/roc_auc`), not subsets, counts or bounds."""
    return [m for m in metrics if m.count("/") == 1 and not m.endswith(("/n", "_low", "_high"))]


def to_markdown(frame: pd.DataFrame, sweep_dir: Path, metric: str, mode: str,
                aggregated: pd.DataFrame | None = None) -> str:
    counts = frame["status"].value_counts().to_dict()
    best = best_row(frame, metric, mode)
    swept = set(" ".join(frame["swept"]).split())
    common = [o for o in frame["overrides"].iloc[0].split() if o not in swept] if len(frame) > 1 else []
    lines = [f"# Sweep report: {sweep_dir.name}", "",
             f"{len(frame)} jobs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ".",
             f"Best by `{metric}` ({mode}): " + (f"job {best['job']} (`{best['swept']}`) = {best[metric]:.4f}"
                                                  if best is not None else "none completed") + "."]
    if common:
        lines.append(f"Every job: `{' '.join(common)}`.")
    lines += [f"Jobs compared in `{REPORT}.png`; job dirs `{sweep_dir}/<job>`; all columns in `{REPORT}.csv`.", ""]
    if aggregated is not None:
        lines += aggregate_markdown(aggregated, metric, mode, summary_columns(metric_columns(frame, metric)))
        lines += ["## Jobs", ""]
    shown = [c for c in frame.columns if c not in ("overrides", "setting")
             and (c != "error" or frame["error"].notna().any())]
    lines.append("| " + " | ".join(shown) + " |")
    lines.append("|" + "---|" * len(shown))
    lines += ["| " + " | ".join(_cell(row[c], c) for c in shown) + " |" for _, row in frame.iterrows()]
    return "\n".join(lines) + "\n"


def plot(frame: pd.DataFrame, metric: str, mode: str, path: Path) -> Path:
    """Horizontal bars of the sweep metric per job; jobs without it are labelled with their status."""
    fig = Figure(figsize=(8, 1.2 + 0.45 * len(frame)))
    ax = fig.subplots()
    labels = [f"{row.job}: {row.swept}"[:70] for row in frame.itertuples()]
    values = frame[metric].astype(float).fillna(0.0)
    best = best_row(frame, metric, mode)
    colors = ["tab:orange" if best is not None and job == best["job"] else "tab:blue" for job in frame["job"]]
    ax.barh(range(len(frame)), values, color=colors)
    for i, (status, value) in enumerate(zip(frame["status"], frame[metric], strict=True)):
        note = f"{value:.4f}" if status == "completed" and not math.isnan(value) else status
        ax.text(0, i, f" {note}", va="center", ha="left", fontsize=8, color="black" if note != status else "red")
    ax.set_yticks(range(len(frame)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric} ({mode} is better; best in orange)")
    ax.set_title(f"sweep {path.parent.name}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")  # jobs running in parallel may all rewrite it
    fig.savefig(tmp, dpi=100, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def write_report(sweep_dir: str | Path, metric: str, mode: str = "max") -> Path | None:
    """Writes sweep_report.{csv,md,png} (and sweep_report_aggregate.csv over seeds/folds) in `sweep_dir`; returns
    the CSV path, or None when no job dir exists yet."""
    sweep_dir = Path(sweep_dir)
    frame = collect(sweep_dir, metric)
    if frame.empty:
        return None
    csv_path = write_text_atomic(sweep_dir / f"{REPORT}.csv", frame.to_csv(index=False))
    aggregated = None
    if "setting" in frame:
        aggregated = aggregate(frame, metric_columns(frame, metric))
        write_text_atomic(sweep_dir / f"{AGGREGATE}.csv", aggregated.to_csv(index=False))
    write_text_atomic(sweep_dir / f"{REPORT}.md", to_markdown(frame, sweep_dir, metric, mode, aggregated))
    plot(frame, metric, mode, sweep_dir / f"{REPORT}.png")
    return csv_path

