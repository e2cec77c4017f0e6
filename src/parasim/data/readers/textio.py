"""One place that turns corpus bytes into text, because real corpora mix UTF-8 and Windows encodings."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from parasim.errors import ParasimError


def read_text(path: str | Path) -> str:
    """Read a whole file as text: UTF-8 (BOM stripped), else cp1252 with a warning naming the file.

    Line endings are normalised to ``\\n`` as Python's text mode would do, so a CRLF file gives the
    same paragraphs (and the same sentence splits) as an LF one.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ParasimError(f"{path}: cannot read the file ({exc.strerror})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        warnings.warn(
            f"{path}: not valid UTF-8 (bad byte at offset {exc.start}); decoded as cp1252 instead",
            stacklevel=2,
        )
        text = data.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def jsonl_objects(text: str, where: str | Path) -> list[tuple[int, dict]]:
    """The JSON objects of JSONL `text` with their 1-based line numbers (blank lines skipped); a line that is not
    valid JSON or not an object is one clear error naming `where` and the line."""
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ParasimError(f"{where}, line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ParasimError(f"{where}, line {number}: expected a JSON object, got {type(row).__name__}")
        rows.append((number, row))
    return rows
