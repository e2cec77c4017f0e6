"""Checks before anything is built or trained, so an overnight job fails in its first seconds, not after an hour.

Each check raises a `ParasimError` whose one-line message names the setting, the file and the fix; the entry
point prints it without a traceback. The order follows what a user would fix first: the command line, then
files on disk, then the hardware.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from parasim.configs import CONFIG_DIR
from parasim.errors import ParasimError
from parasim.reliability.overrides import check_override_types
from parasim.reliability.secrets import check_no_secrets

MIN_FREE_BYTES = 64 * 2**20  # logs, CSV metrics, the prepared-data cache, W&B files
CKPT_ALIASES = {"last", "best", "hpc", "registry"}  # names Lightning resolves itself


def preflight(cfg: DictConfig) -> None:
    """All checks for a composed train config; call it before the model, data or Trainer are built."""
    check_no_secrets(cfg)
    check_override_types(cfg)
    check_model_files(cfg.model)
    check_checkpoint(cfg.get("ckpt_path"))
    check_hardware(cfg.trainer)
    need = footprint_bytes(cfg)
    check_output_dir(Path(cfg.paths.output_dir), need)
    export_dir = OmegaConf.select(cfg, "export.dir") if OmegaConf.select(cfg, "export.enabled") else None
    if export_dir and not Path(export_dir).resolve().is_relative_to(Path(cfg.paths.output_dir).resolve()):
        check_output_dir(Path(export_dir), need)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def check_output_dir(path: Path, need_bytes: int = MIN_FREE_BYTES) -> None:
    """The output dir (or its nearest existing parent) takes a real write, and its disk has `need_bytes` free.

    A probe file is written and fsynced rather than trusting permission bits, which root ignores and which
    say nothing about a read-only mount or a full disk.
    """
    anchor = Path(path).expanduser().absolute()
    while not anchor.exists() and anchor != anchor.parent:
        anchor = anchor.parent
    if not anchor.is_dir():
        raise ParasimError(f"output dir {path}: {anchor} is a file, not a directory")
    fix = "point paths.log_dir (or hydra.run.dir) at a writable disk with free space"
    try:
        handle, probe = tempfile.mkstemp(dir=anchor, prefix=".parasim-write-check-")
        try:
            os.write(handle, b"\0" * 4096)
            os.fsync(handle)
        finally:
            os.close(handle)
            os.unlink(probe)
    except OSError as err:
        raise ParasimError(f"output dir {path} is not writable ({err.strerror} in {anchor}); {fix}") from None
    free = shutil.disk_usage(anchor).free
    if free < need_bytes:
        raise ParasimError(f"output dir {path}: only {_size(free)} free on its disk, but this run needs about "
                           f"{_size(need_bytes)} (checkpoints, export, logs); free space or {fix}")


def footprint_bytes(cfg: DictConfig) -> int:
    """A run's disk use: checkpoints (weights + optimizer state), the export, and `MIN_FREE_BYTES` of logs."""
    weights = _weights_bytes(OmegaConf.select(cfg, "model.path", default=None))
    target = str(OmegaConf.select(cfg, "optimizer._target_", default="") or "")
    momentum = OmegaConf.select(cfg, "optimizer.momentum", default=0) or 0
    states = 2 if "Adam" in target else (1 if momentum else 0)
    ckpt = OmegaConf.select(cfg, "callbacks.model_checkpoint", default=None)
    copies = 0
    if ckpt is not None:
        top_k = int(ckpt.get("save_top_k", 1))
        copies = top_k if top_k >= 0 else int(OmegaConf.select(cfg, "trainer.max_epochs", default=1) or 1)
        copies += 1 if ckpt.get("save_last") is True else 0
    exports = 1 if OmegaConf.select(cfg, "export.enabled", default=False) else 0
    return MIN_FREE_BYTES + weights * (copies * (1 + states) + exports)


def _weights_bytes(model_path: Any) -> int:
    if not model_path:
        return 0
    files = list(Path(str(model_path)).glob("*.safetensors"))
    return sum(f.stat().st_size for f in files)


def check_model_files(model: DictConfig) -> None:
    """`model.path` is a model directory with safetensors weights; `model.tokenizer_path` holds a tokenizer."""
    path = model.get("path")
    if path is not None:
        path = Path(str(path))
        if not (path / "config.json").is_file():
            raise ParasimError(f"model.path={path} is not a model directory (no config.json). Fetch "
                               "all-mpnet-base-v2 with `make weights`, or point model.path at a model directory.")
        if not any(path.glob("*.safetensors")):
            pickled = " (only pytorch_model.bin, a pickle parasim does not load)" if any(path.glob("*.bin")) else ""
            raise ParasimError(f"model.path={path} has no model.safetensors{pickled}; run `make weights`, or "
                               "save the model with safe_serialization=True.")
    tokenizer = model.get("tokenizer_path")
    if tokenizer is not None and not (Path(str(tokenizer)) / "tokenizer_config.json").is_file():
        raise ParasimError(f"model.tokenizer_path={tokenizer} holds no tokenizer (no tokenizer_config.json); "
                           "the tiny model uses the all-mpnet-base-v2 tokenizer: run `make weights`.")


def check_checkpoint(ckpt_path: Any) -> None:
    """An explicit `ckpt_path` is an intact PyTorch zip checkpoint (every member passes its CRC check).

    Lightning checkpoints are pickles, so only a path the user passes is ever loaded; this check reads the
    archive without unpickling it.
    """
    if ckpt_path is None or str(ckpt_path) in CKPT_ALIASES:
        return
    path = Path(str(ckpt_path)).expanduser()
    if not path.exists():
        raise ParasimError(f"ckpt_path={path} does not exist; give a .ckpt file (e.g. <run dir>/checkpoints/"
                           "last.ckpt) or ckpt_path=last")
    if not path.is_file():
        raise ParasimError(f"ckpt_path={path} is a directory; give a .ckpt file inside it")
    try:
        with zipfile.ZipFile(path) as archive:
            if not any(name.rpartition("/")[2] == "data.pkl" for name in archive.namelist()):
                raise ParasimError(f"ckpt_path={path} is a zip file but not a PyTorch checkpoint")
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ParasimError(f"ckpt_path={path} is not a readable checkpoint (corrupt or truncated: {err}); "
                           "use another one, e.g. the run's last.ckpt") from None
    if broken is not None:
        raise ParasimError(f"ckpt_path={path} is corrupt ({broken} fails its CRC check); use another checkpoint")


def _trainer_choices() -> str:
    return ", ".join(sorted(f"trainer={p.stem}" for p in CONFIG_DIR.glob("trainer/*.yaml")))


def check_hardware(trainer: DictConfig) -> None:
    """The accelerator, device count and precision exist on this machine."""
    accelerator = str(trainer.get("accelerator", "auto")).lower()
    precision = str(trainer.get("precision", "32-true"))
    cuda = torch.cuda.is_available()
    if accelerator in ("gpu", "cuda") and not cuda:
        raise ParasimError(f"trainer.accelerator={accelerator} but this machine has no CUDA GPU; use trainer=cpu "
                           f"(trainer choices: {_trainer_choices()})")
    on_gpu = cuda and accelerator in ("auto", "gpu", "cuda")
    devices = trainer.get("devices", 1)
    if on_gpu and isinstance(devices, int) and devices > torch.cuda.device_count():
        raise ParasimError(f"trainer.devices={devices} but only {torch.cuda.device_count()} GPU(s) are visible")
    if precision.startswith("16") and not on_gpu:
        raise ParasimError(f"precision {precision} needs a CUDA GPU (fp16 matmuls are not implemented on CPU); "
                           "use trainer.precision=auto, trainer.precision=bf16-mixed or trainer.precision=32-true")
    if precision.startswith("bf16") and on_gpu and not torch.cuda.is_bf16_supported():
        raise ParasimError(f"precision {precision}: this GPU has no bf16 support; use trainer.precision=16-mixed or "
                           "trainer.precision=32-true")
