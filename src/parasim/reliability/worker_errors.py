"""A ParasimError raised inside a spawned DDP worker (the NaN guard, a data error) reaches the main process as
torch's `ProcessRaisedException`, whose message is the worker's whole traceback. This recovers the error the
user should read, so `trainer=ddp_cpu` fails with the same one line as a single process does."""

from __future__ import annotations

import importlib
import re

from torch.multiprocessing import ProcessRaisedException

from parasim.errors import ParasimError

_RAISED = re.compile(r"^(?P<module>[A-Za-z_][\w.]*)\.(?P<name>\w+): (?P<message>.*)$")


def _error_class(module: str, name: str) -> type[ParasimError] | None:
    if not module.startswith("parasim"):  # never import anything a traceback line names outside the package
        return None
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return found if isinstance(found, type) and issubclass(found, ParasimError) else None


def worker_user_error(err: BaseException) -> ParasimError | None:
    """The worker's ParasimError (same class, same message) when `err` carries one, else None."""
    if not isinstance(err, ProcessRaisedException):
        return None
    lines = str(err).splitlines()
    for index in range(len(lines) - 1, -1, -1):  # the last raise in the trace is the one that ended the worker
        match = _RAISED.match(lines[index])
        cls = match and _error_class(match["module"], match["name"])
        if cls is not None:
            return cls("\n".join([match["message"], *lines[index + 1:]]).strip())
    return None
