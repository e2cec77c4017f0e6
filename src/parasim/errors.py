"""One exception type for problems the user can fix, and how to find it behind what libraries wrap it in.

Entry points print a ParasimError as one `error:` line (`parasim.task`). Hydra's `instantiate` wraps errors
raised while building objects, and a spawned DDP worker's error reaches the main process as torch's
`ProcessRaisedException`, whose message is the worker's whole traceback: `user_error_in` and
`worker_exception` recover the error itself, so `trainer=ddp_cpu` ends as a single process does.
"""

from __future__ import annotations

import builtins
import importlib
import re

from torch.multiprocessing import ProcessRaisedException


class ParasimError(RuntimeError):
    """A user-facing error: the message says what is wrong and what to do."""


class WorkerError(RuntimeError):
    """A worker's error whose class is not rebuilt here; the message starts with its qualified class name."""


_RAISED = re.compile(r"^(?P<module>[A-Za-z_][\w.]*\.)?(?P<name>[A-Za-z_]\w*): (?P<message>.*)$")


def _user_error_class(module: str, name: str) -> type[ParasimError] | None:
    if not module.startswith("parasim"):  # never import anything a traceback line names outside the package
        return None
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return found if isinstance(found, type) and issubclass(found, ParasimError) else None


def _last_raise(err: BaseException) -> tuple[str, str, str] | None:
    """(module, class name, message with its continuation lines) of the last exception line in a worker's trace."""
    if not isinstance(err, ProcessRaisedException):
        return None
    lines = str(err).splitlines()
    for index in range(len(lines) - 1, -1, -1):  # the last raise in the trace is the one that ended the worker
        match = _RAISED.match(lines[index])
        if match and (match["module"] or isinstance(getattr(builtins, match["name"], None), type)):
            message = "\n".join([match["message"], *lines[index + 1:]]).strip()
            return (match["module"] or "").rstrip("."), match["name"], message
    return None


def worker_user_error(err: BaseException) -> ParasimError | None:
    """The worker's ParasimError (same class, same message) when `err` carries one, else None."""
    raised = _last_raise(err)
    cls = raised and _user_error_class(raised[0], raised[1])
    return cls(raised[2]) if cls else None


def worker_exception(err: BaseException) -> BaseException | None:
    """The worker's error as the main process should raise it: a ParasimError or builtin exception rebuilt with
    its class, anything else as a `WorkerError` naming the class; None when `err` is no worker's error."""
    raised = _last_raise(err)
    if raised is None:
        return None
    module, name, message = raised
    user = _user_error_class(module, name) if module else None
    if user is not None:
        return user(message)
    builtin = getattr(builtins, name, None) if not module else None
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        try:
            return builtin(message)
        except TypeError:  # a builtin whose constructor takes other arguments
            pass
    return WorkerError(f"{module + '.' if module else ''}{name}: {message}")


def user_error_in(err: BaseException | None) -> ParasimError | None:
    """The ParasimError behind `err`, also when a library (Hydra's instantiate) wrapped it or a DDP worker raised it."""
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
