"""Rows in and out of the scorer: JSONL, CSV or TSV files, or stdin/stdout as `-`.

Cells stay as written (no type guessing: "NA" is text), and errors name the line.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parasim.data.readers.textio import jsonl_objects, read_text
from parasim.errors import ParasimError
from parasim.utils.files import write_text_atomic

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv"}
STDIO = "-"


def _format(name: str, fallback: str) -> str:
    if name == STDIO:
        if fallback not in FORMATS.values():
            raise ParasimError(f"format must be one of {sorted(set(FORMATS.values()))}, got {fallback!r}")
        return fallback
    kind = FORMATS.get(Path(name).suffix.lower())
    if kind is None:
        raise ParasimError(f"{name}: unsupported extension; use one of {', '.join(FORMATS)} (or - for stdin/stdout)")
    return kind


def read_rows(source: str, fmt: str = "jsonl") -> list[dict[str, Any]]:
    """All rows of `source` as dicts; `fmt` applies to stdin only (files go by extension)."""
    kind = _format(source, fmt)
    text = sys.stdin.read() if source == STDIO else read_text(source)
    where = "stdin" if source == STDIO else source
    if kind == "jsonl":
        return [row for _, row in jsonl_objects(text, where)]
    try:
        return list(csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if kind == "tsv" else ","))
    except csv.Error as exc:
        raise ParasimError(f"{where}: malformed {kind.upper()} ({exc})") from exc


def texts(rows: Sequence[dict[str, Any]], column: str, where: str) -> list[str]:
    """One column as paragraphs; a missing or null cell is an empty paragraph (scored 0)."""
    if rows and not any(column in row for row in rows):
        columns = ", ".join(repr(c) for c in dict.fromkeys(k for row in rows for k in row))
        raise ParasimError(f"{where}: no column {column!r}; the input has columns: {columns}")
    return ["" if row.get(column) is None else str(row[column]) for row in rows]


def write_rows(target: str, rows: Sequence[dict[str, Any]]) -> None:
    """JSONL, CSV or TSV by the target's extension; `-` writes JSONL to stdout."""
    kind = _format(target, "jsonl")
    buffer = io.StringIO(newline="")
    if kind == "jsonl":
        buffer.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    elif rows:  # no rows, no header: an empty input gives an empty output, not a bare newline
        columns = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(buffer, columns, delimiter="\t" if kind == "tsv" else ",", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    if target == STDIO:
        sys.stdout.write(buffer.getvalue())
        sys.stdout.flush()
    else:
        write_text_atomic(target, buffer.getvalue())
