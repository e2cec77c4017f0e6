"""Keep credentials out of everything a run saves: .hydra/, the logged config, logs and the model card.

The W&B key is read by wandb from the environment (WANDB_API_KEY) or its netrc; parasim never reads or
stores it. A config value that holds a secret, literally or through `${oc.env:...}`, would be written to
disk and to the W&B run, so it is refused before anything is written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf

from parasim.errors import ParasimError

SECRET_ENV = ("WANDB_API_KEY",)
SECRET_NAME = re.compile(r"(^|_)(api_?key|secret|password|passwd)$|^(auth_|access_)?token$", re.IGNORECASE)
MIN_SECRET_LEN = 8  # shorter env values would match ordinary config text by chance


def _leaves(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, f"{path}[{index}]")
    else:
        yield path, node


def find_secrets(container: Any) -> list[str]:
    """Dotted keys whose value is, or names, a secret: a key called *api_key/token/password* with a value,
    the value of a SECRET_ENV variable, or an `${oc.env:...}` reference to one."""
    values = [v for v in (os.environ.get(n, "") for n in SECRET_ENV) if len(v) >= MIN_SECRET_LEN]
    found = []
    for path, value in _leaves(container):
        name = path.rpartition(".")[2]
        text = value if isinstance(value, str) else ""
        if (SECRET_NAME.search(name) and value not in (None, "", "???")
                or any(secret in text for secret in values)
                or any(f"oc.env:{env}" in text for env in SECRET_ENV)):
            found.append(path)
    return found


def check_no_secrets(cfg: DictConfig) -> None:
    try:
        container = OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # noqa: BLE001 - unresolvable parts (e.g. `???` or hydra: outside a job) are checked as text
        container = OmegaConf.to_container(cfg, resolve=False)
    found = find_secrets(container)
    shown = [path for path in found if not path.startswith("hydra.")] or found  # Hydra echoes the overrides
    if found:
        raise ParasimError(f"{', '.join(shown)}: a secret in the config would be saved in .hydra/, the logged "
                           "config and the model card; remove it and export it instead (e.g. WANDB_API_KEY)")
