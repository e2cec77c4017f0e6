"""What the user sees: the config tree at start, a metrics table at the end, one-line errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import rich.syntax
import rich.tree
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from parasim.errors import ParasimError

FIRST_GROUPS = ("data", "model", "loss", "optimizer", "scheduler", "precision", "trainer", "callbacks", "logger",
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


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Print a ParasimError as one line and exit 2 instead of a traceback from deep inside a library."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as err:
            cause = user_error_in(err)
            if cause is None:
                raise
            print(f"error: {cause}", file=sys.stderr)
            sys.exit(2)

    return wrapper


def user_error_in(err: BaseException | None) -> ParasimError | None:
    """The ParasimError behind `err`, also when a library (Hydra's instantiate) wrapped it or a DDP worker raised it."""
    from parasim.reliability.worker_errors import worker_user_error  # lazy: parasim.reliability imports Lightning

    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, ParasimError):
            return err
        from_worker = worker_user_error(err)
        if from_worker is not None:
            return from_worker
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None
