"""Webis-CPC-11 folder to `PairRecord`s (the seed's w+ / w- source), tolerant of the corpus's gaps."""

from __future__ import annotations

import warnings
from pathlib import Path

from parasim.data.readers.textio import read_text
from parasim.data.records import PairRecord
from parasim.errors import ParasimError

METADATA_SUFFIX = "-metadata.txt"
SHOWN_SKIPS = 5


def read_webis(root: str | Path, keep_negatives: bool = False) -> list[PairRecord]:
    """Read every `N-original.txt` / `N-paraphrase.txt` pair whose `N-metadata.txt` says `Paraphrase: Yes`.

    Yes pairs are label 1.0 (subset "webis_pos"); with `keep_negatives` the No pairs come too, label 0.0
    (subset "webis_neg"). Pairs with a missing text file or no `Paraphrase:` line are skipped and
    counted in one warning. Output is ordered by N numerically, so it is the same on every file system.
    """
    root = Path(root)
    if not root.is_dir():
        raise ParasimError(f"{root}: Webis-CPC-11 folder not found")
    stems = sorted(
        (path.name[: -len(METADATA_SUFFIX)] for path in root.glob(f"*{METADATA_SUFFIX}")), key=_order
    )
    if not stems:
        raise ParasimError(
            f"{root}: no N{METADATA_SUFFIX} files; a Webis-CPC-11 folder holds N-original.txt, "
            f"N-paraphrase.txt and N{METADATA_SUFFIX} for each pair N"
        )

    records: list[PairRecord] = []
    skipped: list[str] = []
    for stem in stems:
        original, paraphrase = root / f"{stem}-original.txt", root / f"{stem}-paraphrase.txt"
        missing = [path.name for path in (original, paraphrase) if not path.is_file()]
        verdict = _verdict(read_text(root / f"{stem}{METADATA_SUFFIX}"))
        if missing:
            skipped.append(f"{stem} (no {' or '.join(missing)})")
        elif verdict is None:
            skipped.append(f"{stem} (no 'Paraphrase: Yes/No' line)")
        elif verdict or keep_negatives:
            records.append(
                PairRecord(
                    read_text(original).strip(),
                    read_text(paraphrase).strip(),
                    1.0 if verdict else 0.0,
                    "webis_pos" if verdict else "webis_neg",
                )
            )
    if skipped:
        warnings.warn(
            f"{root}: skipped {len(skipped)} of {len(stems)} Webis pairs; first: {', '.join(skipped[:SHOWN_SKIPS])}",
            stacklevel=2,
        )
    return records


def _order(stem: str) -> tuple[int, int, str]:
    """Numeric N first, in numeric order; any other name after them, alphabetically."""
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)


def _verdict(metadata: str) -> bool | None:
    """True for `Paraphrase: Yes`, False for `No`, None when no line gives a clear answer."""
    for line in metadata.split("\n"):
        key, _, value = line.strip().partition(":")
        if key.strip().lower() == "paraphrase":
            answer = value.strip().lower()
            if answer in ("yes", "no"):
                return answer == "yes"
    return None
