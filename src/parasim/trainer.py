"""The Lightning Trainer of a run, built from the `trainer` config with its precision resolved for this machine."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig

from parasim.errors import ParasimError

log = logging.getLogger(__name__)
CHOICES = ("32-true", "32", "16-mixed", "bf16-mixed", "auto")


def cpu_has_fast_bf16() -> bool:
    """AVX512-BF16 or AMX: only then is bf16 autocast on CPU faster than fp32 (else it is emulated)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(choice: str, accelerator: str = "auto") -> str:
    """`auto` → 16-mixed on CUDA (the seed's fp16), bf16-mixed on CPUs with native bf16, else 32-true."""
    choice = str(choice)
    if choice not in CHOICES:
        raise ParasimError(f"Unknown precision {choice!r}; choose one of {', '.join(CHOICES)}.")
    cuda = torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda")
    if choice == "auto":
        if cuda:
            return "16-mixed"
        return "bf16-mixed" if cpu_has_fast_bf16() else "32-true"
    if choice == "16-mixed" and not cuda:
        raise ParasimError(
            "trainer.precision=16-mixed needs a CUDA GPU (fp16 matmuls are not implemented on CPU). "
            "Use trainer.precision=auto, trainer.precision=bf16-mixed or trainer.precision=32-true on this machine."
        )
    if choice == "bf16-mixed" and not cuda and not cpu_has_fast_bf16():
        log.warning("trainer.precision=bf16-mixed on a CPU without AVX512-BF16 or AMX: bf16 is emulated there, "
                    "about 30x slower than trainer.precision=32-true (benchmarks/RESULTS.md); use 32-true unless you "
                    "test bf16 numerics")
    return "32-true" if choice == "32" else choice


def build_trainer(trainer: DictConfig, callbacks: list[L.Callback], loggers: list[Logger]) -> L.Trainer:
    """`trainer.precision` resolved once, here, where the Trainer is built (`auto` depends on the machine)."""
    precision = resolve_precision(trainer.get("precision", "auto"), trainer.get("accelerator", "auto"))
    return instantiate(trainer, precision=precision, callbacks=callbacks, logger=loggers or False)
