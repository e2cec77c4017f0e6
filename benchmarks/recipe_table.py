"""The recipe sweep as one table: `python benchmarks/recipe_table.py outputs/recipe > table.md`.

Reads every sweep dir under the given folder (what `benchmarks/recipe.sh` ran, one per stage) through the sweep
report's own reader, groups jobs that differ only in seed (parasim.sweeps.aggregate), and prints one row per
backbone for the untrained base model, then one per setting: val and test metrics as mean [95 % t-interval over
seeds] (a single value for one seed), and, where a job scored the base model too, tuned − base on test with its
paired-bootstrap interval (the first such seed's) and the STS-b Spearman change. Settings are chosen on val/mse
only; test is shown, never used to choose.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd

from parasim.sweeps.aggregate import summary
from parasim.sweeps.report import collect

METRICS = ("val/mse", "val/roc_auc", "test/mse", "test/roc_auc")
# how a job was run, not what it trained: left out of the setting's label
BOOKKEEPING = ("seed", "logger", "export", "suite", "eval_base", "data.limits.val", "data.limits.test")
DIFFS = (("test/tuned-base/mse", "Δ test MSE vs base"), ("stsb/tuned-base/spearman", "Δ STS-b Spearman"))


def _mean_cell(values: pd.Series) -> str:
    stats = summary(values)
    if stats["n"] == 0:
        return ""
    if stats["n"] == 1:
        return f"{stats['mean']:.4f}"
    return f"{stats['mean']:.4f} [{stats['ci_low']:.4f}, {stats['ci_high']:.4f}]"


def _diff_cell(metrics: dict[str, float], key: str) -> str:
    value = metrics.get(f"{key}_diff", math.nan)
    if math.isnan(value):
        return ""
    return f"{value:+.4f} [{metrics[f'{key}_low']:+.4f}, {metrics[f'{key}_high']:+.4f}]"


def jobs(root: Path) -> pd.DataFrame:
    """Every completed job of every sweep under `root`, labelled by what it trained (its overrides less bookkeeping
    and seed; model first); a (setting, seed) run twice, in two stages, counts once."""
    frames = []
    for sweep_dir in sorted(p for p in root.iterdir() if (p / "multirun.yaml").is_file()):
        frame = collect(sweep_dir, "val/mse")
        if not frame.empty:
            frames.append(frame.assign(stage=sweep_dir.name, dir=[sweep_dir / str(j) for j in frame["job"]]))
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[frame["status"] == "completed"].copy()
    overrides = [o.split() for o in frame["overrides"]]
    frame["label"] = [" ".join(sorted((o for o in job if o.split("=")[0].lstrip("~+") not in BOOKKEEPING),
                                      key=lambda o: (not o.startswith("model="), o))) for job in overrides]
    frame["seed"] = [next((o.split("=", 1)[1] for o in job if o.startswith("seed=")), "42") for job in overrides]
    with_base = frame["test/tuned-base/mse_diff"].notna() if "test/tuned-base/mse_diff" in frame else False
    kept = frame.assign(with_base=with_base).sort_values("with_base", ascending=False, kind="stable")
    return kept.drop_duplicates(["label", "seed"]).sort_index()  # the run that also scored the base, if any


def main(root: Path) -> str:
    header = ["setting", "seeds", *METRICS, *(title for _, title in DIFFS), "min/job", "sweep dirs"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    frame = jobs(root)
    for model, group in frame.groupby(frame["label"].str.split().str[0], sort=False):
        for path in group["dir"]:  # the untouched model, from the first job that scored it (eval_base=true)
            base = json.loads((path / "metrics.json").read_text())
            if "base/mse" in base:
                cells = ["", "", f"{base['base/mse']:.4f}", f"{base['base/roc_auc']:.4f}", "", ""]
                lines.append(f"| `{model}` base, not trained | | " + " | ".join(cells) + f" | | {path.parent.name} |")
                break
    for label, group in frame.groupby("label", sort=False):
        cells = [_mean_cell(group[m]) if m in group else "" for m in METRICS]
        first = json.loads((group["dir"].iloc[0] / "metrics.json").read_text())  # the held-out checks too
        cells += [_diff_cell(first, k) for k, _ in DIFFS]
        stages = ", ".join(dict.fromkeys(group["stage"]))
        lines.append(f"| `{label}` | {','.join(group['seed'])} | " + " | ".join(cells)
                     + f" | {group['wall_s'].mean() / 60:.1f} | {stages} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(main(Path(sys.argv[1])))
