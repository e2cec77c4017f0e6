"""What the user sees: the config tree at start, a metrics table at the end (one-line errors: `parasim.task`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import rich.syntax
import rich.tree
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

FIRST_GROUPS = ("data", "model", "loss", "optimizer", "scheduler", "trainer", "callbacks", "logger",
                "paths")


def print_config_tree(cfg: DictConfig, save_to: str | Path | None = None) -> None:
    """Rich tree of the resolved config, one branch per group; also written to `save_to`."""
    tree = rich.tree.Tree("CONFIG", style="dim", guide_style="dim")
    keys = [k for k in FIRST_GROUPS if k in cfg] + [k for k in cfg if k not in FIRST_GROUPS]
    for key in keys:
        branch = tree.add(str(key), style="bold")
        value = cfg[key]
        text = OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        branch.add(rich.syntax.Syntax(text, "yaml"))
    Console().print(tree)
    if save_to is not None:
        with open(save_to, "w") as handle:
            Console(file=handle, width=120).print(tree)


def print_metrics(metrics: Mapping[str, float], title: str = "metrics") -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in sorted(metrics):
        table.add_row(key, f"{metrics[key]:.4f}" if isinstance(metrics[key], float) else str(metrics[key]))
    Console().print(table)
