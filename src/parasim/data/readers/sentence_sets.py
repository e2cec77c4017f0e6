"""Sentence-level evaluation sets (MRPC, PAWS-Wiki, STS-B) in the layouts of the copies in shared/data.

All three are tab-separated with quote characters inside the texts, so they are read with
`csv.QUOTE_NONE`: one record per line, and an error names the exact line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from parasim.data.readers.tabular import parse_label
from parasim.data.readers.textio import read_text
from parasim.data.records import PairRecord
from parasim.errors import ParasimError

MRPC_HEADER = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
STS_MAX_SCORE = 5.0
STS_MIN_FIELDS = 7


def read_mrpc(path: str | Path) -> list[PairRecord]:
    """MRPC: header `Quality  #1 ID  #2 ID  #1 String  #2 String` (BOM stripped); Quality 1 = paraphrase."""
    records: list[PairRecord] = []
    for number, fields in _lines(path):
        if number == 1 and fields[0] == MRPC_HEADER[0]:
            continue
        _expect_fields(path, number, fields, len(MRPC_HEADER), len(MRPC_HEADER))
        label = parse_label(fields[0], f"{path}, line {number}")
        records.append(PairRecord(fields[3], fields[4], label, "mrpc"))
    return records


def read_paws(path: str | Path) -> list[PairRecord]:
    """PAWS-Wiki: id, sentence1, sentence2, label; the shared copy has no header, one is tolerated."""
    records: list[PairRecord] = []
    for number, fields in _lines(path):
        if number == 1 and fields[-1] == "label":
            continue
        _expect_fields(path, number, fields, 4, 4)
        label = parse_label(fields[3], f"{path}, line {number}")
        records.append(PairRecord(fields[1], fields[2], label, "paws"))
    return records


def read_sts(path: str | Path) -> list[PairRecord]:
    """STS-B: genre, file, year, id, score 0-5, sentence1, sentence2 [, source columns]; score / 5 is the label."""
    records: list[PairRecord] = []
    for number, fields in _lines(path):
        _expect_fields(path, number, fields, STS_MIN_FIELDS, None)
        label = parse_label(fields[4], f"{path}, line {number}", scale=STS_MAX_SCORE)
        records.append(PairRecord(fields[5], fields[6], label, "stsb"))
    return records


def _lines(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """Tab-split, unquoted records with their line numbers; blank lines are skipped."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    for fields in reader:
        if fields:
            yield reader.line_num, fields


def _expect_fields(path: str | Path, number: int, fields: list[str], least: int, most: int | None) -> None:
    """Refuse a line with too few (or too many) tab-separated fields, naming file and line."""
    if len(fields) < least or (most is not None and len(fields) > most):
        expected = f"{least}" if most == least else f"at least {least}"
        raise ParasimError(f"{path}, line {number}: {len(fields)} tab-separated fields, expected {expected}")
