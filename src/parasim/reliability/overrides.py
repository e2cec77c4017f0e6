"""Command-line values of the wrong type (`seed=abc`, `trainer.max_epochs=1.5`), caught before a library
fails on them with a traceback.

Hydra checks keys and group names but not value types, since the YAML files carry no schema. The type a
key should have is the type of its default, so the config is composed again with the same group choices
but without the `key=value` overrides, and each overridden value is compared with that default.
"""

from __future__ import annotations

from typing import Any

from hydra import compose
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from parasim.errors import ParasimError

# Lightning takes several types for these ("auto", an int, a list of ids, a strategy name or object)
FLEXIBLE = {"trainer.devices", "trainer.strategy", "trainer.num_nodes", "trainer.precision"}


def type_problem(key: str, default: Any, value: Any) -> str | None:
    """Why `value` cannot replace `default` (None if it can); null is always allowed."""
    if default is None or value is None or key in FLEXIBLE:
        return None
    if isinstance(default, bool):
        ok, want = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, want = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok, want = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    else:
        return None
    return None if ok else f"{key}={value!r} is not {want} (default {default!r})"


def check_override_types(cfg: DictConfig) -> None:
    """Compare each `key=value` override of the running Hydra job with the key's default; no-op outside Hydra."""
    if not HydraConfig.initialized() or not GlobalHydra.instance().is_initialized():
        return
    hydra_cfg = HydraConfig.get()
    groups = set(hydra_cfg.runtime.choices)
    parsed = OverridesParser.create().parse_overrides(
        OmegaConf.to_container(hydra_cfg.overrides.task, resolve=False))
    values = [o for o in parsed if o.key_or_group not in groups and not (o.is_add() or o.is_delete())]
    if not values:
        return
    choices = [o.input_line for o in parsed if o.key_or_group in groups]
    base = compose(config_name=hydra_cfg.job.config_name, overrides=choices)
    problems = []
    for override in values:
        key = override.key_or_group
        default = OmegaConf.select(base, key, default=None, throw_on_resolution_failure=False)
        value = OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)
        problem = type_problem(key, default, value)
        if problem:
            problems.append(problem)
    if problems:
        raise ParasimError(f"wrong type on the command line: {'; '.join(problems)}")
