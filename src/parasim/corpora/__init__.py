"""Corpora embedded in the package, so a fresh clone trains without network or ../shared."""

from pathlib import Path

CORPORA_DIR = Path(__file__).resolve().parent


def corpus_path(name: str) -> str:
    """Absolute path of an embedded corpus folder (used by the `parasim_corpus` config resolver)."""
    path = CORPORA_DIR / name
    if not path.is_dir():
        available = sorted(p.name for p in CORPORA_DIR.iterdir() if p.is_dir() and not p.name.startswith("_"))
        raise FileNotFoundError(f"No embedded corpus {name!r}; available: {available}")
    return str(path)
