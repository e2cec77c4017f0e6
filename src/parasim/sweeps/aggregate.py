"""Jobs that differ only in `seed` and/or `data.fold` as one setting: each metric's mean ± std and 95 % t-interval.

Seeds and folds repeat a setting; they are not settings themselves. A setting's figure is the mean over its
completed repetitions, `std` their sample standard deviation (ddof 1), and the t-interval mean ± t(0.975, n − 1)
· std / √n (scipy.stats.t) says where the mean of many more repetitions would lie. It is wide for few runs:
t(0.975, 2) = 4.30, so 3 seeds give mean ± 2.48 std; 5 folds give mean ± 1.24 std. Folds share training data,
so their interval is optimistic (the runs are not independent); seeds on fixed data are. n = 1 has no spread
(std and interval empty).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from scipy.stats import t

REPEAT_KEYS = ("seed", "data.fold")
CONFIDENCE = 0.95
ALL = "(all jobs)"


def override_key(override: str) -> str:
    """`seed` for `seed=3`, `+seed=3` or `++seed=3`."""
    return override.split("=", 1)[0].lstrip("+~")


def setting_of(overrides: Sequence[str], common: set[str]) -> str:
    """The swept overrides of a job without its seed and fold: the jobs of one setting share it."""
    return " ".join(o for o in overrides if o not in common and override_key(o) not in REPEAT_KEYS) or ALL


def has_repeats(overrides: Sequence[Sequence[str]]) -> bool:
    """Whether some jobs differ in seed or fold, i.e. whether grouping them means anything."""
    values = {key: {o for job in overrides for o in job if override_key(o) == key} for key in REPEAT_KEYS}
    return any(len(v) > 1 for v in values.values())


def summary(values: pd.Series, confidence: float = CONFIDENCE) -> dict[str, float]:
    """n, mean, std and the t-interval of the mean of the non-missing values."""
    values = values.dropna().astype(float)
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    std = float(values.std(ddof=1)) if n > 1 else math.nan
    half = float(t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n) if n > 1 else math.nan
    return {"n": n, "mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half}


def aggregate(frame: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per (setting, metric) over the setting's completed jobs; `jobs` lists them (settings in job order)."""
    done = frame[frame["status"] == "completed"]
    rows = []
    for setting, group in done.groupby("setting", sort=False):
        jobs = " ".join(map(str, group["job"]))
        rows += [{"setting": setting, "metric": metric, **summary(group[metric]), "jobs": jobs} for metric in metrics]
    return pd.DataFrame(rows, columns=["setting", "metric", "n", "mean", "std", "ci_low", "ci_high", "jobs"])


def _cell(row: pd.Series, jobs: int | None = None) -> str:
    """`mean ± std [low, high]`, with `(n=…)` when the metric's n differs from the setting's `jobs` (or always)."""
    if row["n"] == 0:
        return ""
    text = f"{row['mean']:.4f}"
    if row["n"] > 1:
        text += f" ± {row['std']:.4f} [{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
    return text + (f" (n={row['n']})" if row["n"] != jobs else "")


def to_markdown(table: pd.DataFrame, metric: str, mode: str, shown: Sequence[str]) -> list[str]:
    """The aggregated section of sweep_report.md: one row per setting, the `shown` metrics as columns."""
    if table.empty:
        return []
    repeats = " / ".join(f"`{k}`" for k in REPEAT_KEYS)
    lines = ["## Over seeds and folds", "",
             f"Jobs that differ only in {repeats} form one setting. Each cell: mean ± std over its completed jobs "
             f"[{CONFIDENCE:.0%} t-interval of the mean]; every metric in `sweep_report_aggregate.csv`.", ""]
    ranked = table[(table["metric"] == metric) & (table["n"] > 0)]
    if not ranked.empty:
        best = ranked.loc[ranked["mean"].idxmax() if mode == "max" else ranked["mean"].idxmin()]
        lines += [f"Best setting by mean `{metric}` ({mode}): `{best['setting']}` = {_cell(best)}.", ""]
    columns = [m for m in shown if m in set(table["metric"])]
    lines.append("| setting | jobs | n | " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * (3 + len(columns)))
    for setting, rows in table.groupby("setting", sort=False):
        by_metric = rows.set_index("metric")
        jobs = len(rows["jobs"].iloc[0].split())
        cells = [_cell(by_metric.loc[m], jobs) for m in columns]
        lines.append(f"| {setting.replace('|', '/')} | {rows['jobs'].iloc[0]} | {jobs} | " + " | ".join(cells) + " |")
    return [*lines, ""]
