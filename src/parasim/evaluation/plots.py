"""The seed's figures as PNGs: score histograms, reliability diagram, training loss with a moving average.

matplotlib's Agg backend renders without a display (CI, remote machines); `parasim.loggers.log_images`
logs the files to W&B.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402

BIN_WIDTH = 0.01
LOSS_WINDOW = 8


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+=-]+", "_", name)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_histogram(scores: np.ndarray, labels: np.ndarray, path: Path, title: str, xlabel: str = "score") -> Path:
    """Positives and negatives on their own y-axes (classes of different sizes stay readable), bins 0.01 wide."""
    low = np.floor(scores.min(initial=0.0) / BIN_WIDTH) * BIN_WIDTH
    high = np.ceil(scores.max(initial=1.0) / BIN_WIDTH) * BIN_WIDTH
    edges = np.arange(low, high + BIN_WIDTH / 2, BIN_WIDTH)
    positive = labels >= 0.5
    fig, left = plt.subplots(figsize=(7, 4))
    right = left.twinx()
    left.hist(scores[positive], bins=edges, color="tab:blue", alpha=0.6, label=f"positives ({positive.sum()})")
    right.hist(scores[~positive], bins=edges, color="tab:red", alpha=0.6, label=f"negatives ({(~positive).sum()})")
    left.set_xlabel(xlabel)
    left.set_ylabel("positives", color="tab:blue")
    right.set_ylabel("negatives", color="tab:red")
    left.set_title(title)
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(handles=handles, loc="upper left")
    return _save(fig, path)


def plot_reliability(labels: np.ndarray, curves: Mapping[str, np.ndarray], path: Path, title: str,
                     bins: int = 10) -> Path:
    """Observed positive rate against mean predicted probability per bin, one line per score."""
    positive = (labels >= 0.5).astype(int)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], ls="--", color="grey", label="perfectly calibrated")
    for name, probabilities in curves.items():
        p = np.clip(probabilities, 0.0, 1.0)
        if 0 < positive.sum() < len(positive):
            rate, mean = calibration_curve(positive, p, n_bins=bins, strategy="uniform")
            top.plot(mean, rate, marker="o", label=name)
        bottom.hist(p, bins=np.linspace(0, 1, bins + 1), histtype="step", label=name)
    top.set_ylabel("observed positive rate")
    top.set_title(title)
    top.legend(loc="upper left")
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("pairs")
    return _save(fig, path)


def read_training_loss(run_dir: Path) -> pd.DataFrame | None:
    """`step`, `loss` rows of a training run's CSV log (csv/metrics.csv), or None without one."""
    path = Path(run_dir) / "csv" / "metrics.csv"
    if not path.is_file():
        return None
    frame = pd.read_csv(path)
    if "train/loss" not in frame:
        return None
    frame = frame.dropna(subset=["train/loss"])
    return pd.DataFrame({"step": frame["step"].astype(int), "loss": frame["train/loss"].astype(float)})


def plot_training_loss(run_dir: str | Path, path: str | Path | None = None, window: int = LOSS_WINDOW) -> Path | None:
    """Per-batch training loss and its moving average over `window` consecutive batches (the seed's view).

    Writes `loss_curve.png` in `run_dir` unless `path` says otherwise; None when the run has no CSV loss log.
    """
    frame = read_training_loss(Path(run_dir))
    if frame is None or frame.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(frame["step"], frame["loss"], color="tab:blue", alpha=0.35, lw=0.8, label="batch loss")
    average = frame["loss"].rolling(window, min_periods=window).mean()
    if average.notna().any():
        ax.plot(frame["step"], average, color="tab:blue", lw=2, label=f"average of {window} batches")
    ax.set_xlabel("step")
    ax.set_ylabel("train/loss")
    ax.set_title("training loss")
    ax.legend()
    return _save(fig, Path(path) if path else Path(run_dir) / "loss_curve.png")
