"""ALECS folder (`og/` originals, `mg/` machine paraphrases) to positive `PairRecord`s (the seed's a+)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from parasim.data.readers.textio import read_text
from parasim.data.records import PairRecord
from parasim.errors import ParasimError

PARAPHRASE_NAME = re.compile(r"(?P<original>.+)0(?P<k>\d)")
SHOWN_SKIPS = 5


def read_alecs(root: str | Path) -> list[PairRecord]:
    """Pair each `og/NAME.txt` with each of its paraphrases `mg/NAME0k.txt`: label 1.0, subset "alecs_pos".

    A paraphrase whose original is missing (or whose name does not end in `0k`) is skipped and counted
    in one warning. Output is sorted by original name, then k.
    """
    root = Path(root)
    originals, paraphrases = root / "og", root / "mg"
    for folder in (originals, paraphrases):
        if not folder.is_dir():
            raise ParasimError(f"{folder}: folder not found; an ALECS root holds og/ (originals) and mg/")
    found: list[tuple[str, int, Path]] = []
    skipped: list[str] = []
    for path in paraphrases.glob("*.txt"):
        match = PARAPHRASE_NAME.fullmatch(path.stem)
        if match is None:
            skipped.append(f"{path.name} (name is not NAME0k.txt)")
        elif not (originals / f"{match['original']}.txt").is_file():
            skipped.append(f"{path.name} (no og/{match['original']}.txt)")
        else:
            found.append((match["original"], int(match["k"]), path))
    if not found:
        raise ParasimError(f"{paraphrases}: no paraphrase files NAME0k.txt with a matching og/NAME.txt")
    if skipped:
        skipped.sort()
        warnings.warn(
            f"{paraphrases}: skipped {len(skipped)} paraphrase files; first: {', '.join(skipped[:SHOWN_SKIPS])}",
            stacklevel=2,
        )

    records: list[PairRecord] = []
    texts: dict[str, str] = {}
    for name, _, path in sorted(found):
        if name not in texts:
            texts[name] = read_text(originals / f"{name}.txt").strip()
        records.append(PairRecord(texts[name], read_text(path).strip(), 1.0, "alecs_pos"))
    return records
