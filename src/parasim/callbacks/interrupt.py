"""SIGTERM (pre-emption, `kill`, SLURM time limit) or Ctrl-C mid-epoch: stop after the batch, keep a checkpoint.

Lightning's signal connector already turns SIGTERM into a `SIGTERMException` raised once the current
batch is done, so the optimizer step, loop counters and loader position agree. This callback routes
the first SIGINT the same way, writes `<dirpath>/<filename>.ckpt` when that exception stops the fit,
and remembers the signal so the entry point can exit with 128+signal and print how to resume. A
second Ctrl-C interrupts at once, without a checkpoint.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException


class InterruptCheckpoint(L.Callback):
    def __init__(self, dirpath: str | Path, filename: str = "interrupted") -> None:
        self.path = Path(dirpath) / f"{filename}.ckpt"
        self.signal: signal.Signals | None = None
        self.saved: Path | None = None
        self._previous: Any = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signal.SIGINT
        signal.signal(signal.SIGINT, signal.default_int_handler)
        lightning_handler = signal.getsignal(signal.SIGTERM)
        if callable(lightning_handler):
            lightning_handler(signal.SIGTERM, frame)

    def _restore_sigint(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore_sigint()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore_sigint()
        if isinstance(exception, SIGTERMException):
            self.signal = self.signal or signal.SIGTERM
            trainer.save_checkpoint(self.path)
            self.saved = self.path
