"""User pair files (CSV, TSV, JSONL, Parquet) to `PairRecord`s, with errors that point at the bad line.

CSV/TSV and JSONL are parsed here line-aware rather than with pandas: an error then names the exact line
even when a quoted paragraph spans several lines, and texts such as "NA" or "null" stay text instead of
turning into missing values. pandas (pyarrow) reads Parquet.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from pathlib import Path
from typing import Any, NamedTuple

from parasim.data.readers.textio import read_text
from parasim.data.records import PairRecord
from parasim.errors import ParasimError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


class _Table(NamedTuple):
    """Column names in file order, and (position, row) pairs; `unit` says whether position is a line or row."""

    columns: list[str]
    rows: list[tuple[int, dict[str, Any]]]
    unit: str


def read_pairs_file(
    path: str | Path,
    text_a: str = "paragraphs1",
    text_b: str = "paragraphs2",
    label: str = "label",
    subset: str | None = None,
    drop_empty: bool = False,
) -> list[PairRecord]:
    """Read one pair file; the format comes from the extension, `subset` defaults to the file stem.

    Every row is validated before anything is returned. Empty or whitespace-only paragraphs are kept
    (SE-F1 scores them 0) unless `drop_empty`, which drops them with a warning counting them.
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ParasimError(
            f"{path}: unsupported file extension {path.suffix!r}; supported: {', '.join(FORMATS)}"
        )
    if kind == "parquet":
        table = _parquet_table(path)
    elif kind == "jsonl":
        table = _jsonl_table(path)
    else:
        table = _delimited_table(path, "\t" if kind == "tsv" else ",")
    if not table.rows:
        raise ParasimError(f"{path}: no pairs in the file (it is empty or has only a header)")
    for option, name in (("text_a", text_a), ("text_b", text_b), ("label", label)):
        if name not in table.columns:
            available = ", ".join(repr(column) for column in table.columns)
            raise ParasimError(
                f"{path}: no column {name!r} (the {option} option sets this name); "
                f"the file has columns: {available}"
            )

    records: list[PairRecord] = []
    dropped = 0
    name = path.stem if subset is None else subset
    for position, row in table.rows:
        value = parse_label(row.get(label), f"{path}, {table.unit} {position}")
        first, second = _text(row.get(text_a)), _text(row.get(text_b))
        if drop_empty and not (first.strip() and second.strip()):
            dropped += 1
            continue
        records.append(PairRecord(first, second, value, name))
    if dropped:
        warnings.warn(
            f"{path}: dropped {dropped} of {len(table.rows)} pairs with an empty or whitespace-only "
            "paragraph (drop_empty)",
            stacklevel=2,
        )
    return records


def parse_label(value: Any, where: str, scale: float = 1.0) -> float:
    """Turn a label cell into a float in [0, 1]; `scale` maps graded scores (STS: 0-5) onto that range."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ParasimError(f"{where}: the label is missing")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParasimError(f"{where}: label {value!r} is not a number in [0, {scale:g}]") from None
    if math.isnan(number):
        raise ParasimError(f"{where}: the label is missing (NaN)")
    if not 0.0 <= number <= scale:
        raise ParasimError(f"{where}: label {value!r} is outside [0, {scale:g}]")
    return number / scale


def _text(value: object) -> str:
    """Missing or NaN text cells are empty paragraphs (scored 0), not errors."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value if isinstance(value, str) else str(value)


def _delimited_table(path: Path, delimiter: str) -> _Table:
    """CSV/TSV with a header row (line 1); blank lines are skipped, quoted cells may span lines."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=delimiter)
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        header = next((fields for fields in reader if fields), None)
        if header is None:
            raise ParasimError(f"{path}: the file is empty (no header, no pairs)")
        start = reader.line_num + 1
        for fields in reader:
            if fields:
                if len(fields) != len(header):
                    raise ParasimError(
                        f"{path}, line {start}: {len(fields)} fields, but the header has {len(header)}"
                    )
                rows.append((start, dict(zip(header, fields, strict=True))))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ParasimError(f"{path}, line {reader.line_num}: malformed row ({exc})") from exc
    return _Table(header, rows, "line")


def _jsonl_table(path: Path) -> _Table:
    """JSON Lines: one object per line (line 1 = first line), blank lines skipped; columns = all keys seen."""
    columns: dict[str, None] = {}
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ParasimError(
                f"{path}, line {number}: not valid JSON ({exc.msg}); expected one JSON object per line"
            ) from None
        if not isinstance(record, dict):
            raise ParasimError(f"{path}, line {number}: expected a JSON object, got {type(record).__name__}")
        columns.update(dict.fromkeys(record))
        rows.append((number, record))
    return _Table(list(columns), rows, "line")


def _parquet_table(path: Path) -> _Table:
    """Parquet via pandas; rows are numbered from 1 and missing cells become None."""
    import pandas as pd  # only Parquet needs pandas; a module-level import would slow every start-up

    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ParasimError(f"{path}: cannot read the file as Parquet ({exc})") from exc
    frame = frame.astype(object).where(frame.notna(), None)
    rows = [(index, record) for index, record in enumerate(frame.to_dict("records"), start=1)]
    return _Table([str(column) for column in frame.columns], rows, "row")
