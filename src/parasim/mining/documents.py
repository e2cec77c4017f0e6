"""Collections of documents, cut into paragraphs whose sentences keep their character spans in the document.

A collection is a folder of `.txt` files (ids: their paths inside the folder, sorted) or one JSONL/CSV file with
an `id` and a `text` column. Paragraphs are the blocks between blank lines, or windows of `window` sentences
moved by `stride` (for texts without paragraph breaks); `mode: auto` uses blank lines in a document that has
them and windows in one that has none. Sentences are the SE-F1 splitter's (`split_spans`), except that a
sentence longer than `max_sentence_chars` (a page without punctuation, a 1 MB single line) is cut at whitespace
into pieces of at most that length: the encoder reads 384 tokens (≈ 1,500 characters) of a sentence, so the
rest of a longer one would never be compared. Nothing is dropped: every non-space character of a document lies
in one of its paragraphs' sentences.

Bad input: an empty folder, a missing path, a duplicate id, a missing column or an unsupported file is an
error naming it; a binary file (a NUL byte in its first 8 kB) is an error too, or skipped and listed with
`on_bad_file: skip`; a non-UTF-8 file is read as cp1252 with a warning (as everywhere in parasim); an empty
document is kept (it has no paragraphs) and counted.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from parasim.data.readers.textio import jsonl_objects, read_text
from parasim.data.splitter import Span, split_spans
from parasim.errors import ParasimError

BLANK_LINES = re.compile(r"\n[ \t\f\v]*\n")
BINARY_PROBE = 8192  # bytes read to tell a binary file (a NUL byte) from text
TABLE_SUFFIXES = (".jsonl", ".json", ".csv")


@dataclass
class Document:
    id: str
    text: str


@dataclass
class Segmenter:
    """How documents become paragraphs (the `segment` config)."""

    mode: str = "auto"  # blank_lines | window | auto
    window: int = 5
    stride: int = 3
    max_sentence_chars: int = 1500

    def __post_init__(self) -> None:
        if self.mode not in ("blank_lines", "window", "auto"):
            raise ParasimError(f"segment.mode must be blank_lines, window or auto, got {self.mode!r}")
        if self.window < 1 or not 1 <= self.stride <= self.window:
            raise ParasimError(f"segment.window must be >= 1 and 1 <= segment.stride <= window, got window="
                               f"{self.window}, stride={self.stride} (a stride above the window would skip text)")
        if self.max_sentence_chars < 16:
            raise ParasimError(f"segment.max_sentence_chars must be at least 16, got {self.max_sentence_chars}")


@dataclass
class Collection:
    """Documents and their paragraphs as flat arrays (spans in document coordinates, sentences per paragraph
    as a CSR range into `sentence_spans`)."""

    documents: list[Document]
    paragraph_doc: np.ndarray  # (P,) document index
    paragraph_spans: np.ndarray  # (P, 2)
    sentence_ptr: np.ndarray  # (P + 1,)
    sentence_spans: np.ndarray  # (S, 2)
    empty_documents: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    cut_sentences: int = 0

    def __len__(self) -> int:
        return len(self.paragraph_doc)

    def paragraph_text(self, p: int) -> str:
        start, end = self.paragraph_spans[p]
        return self.documents[self.paragraph_doc[p]].text[start:end]

    def sentences(self, p: int) -> list[str]:
        text = self.documents[self.paragraph_doc[p]].text
        return [text[s:e] for s, e in self.sentence_spans[self.sentence_ptr[p]:self.sentence_ptr[p + 1]]]

    def sentence_spans_in_paragraph(self, p: int) -> list[Span]:
        base = int(self.paragraph_spans[p, 0])
        rows = self.sentence_spans[self.sentence_ptr[p]:self.sentence_ptr[p + 1]]
        return [Span(int(s) - base, int(e) - base) for s, e in rows]

    def sentence_texts(self) -> list[str]:
        """Every sentence occurrence's text, in paragraph order."""
        doc_of = np.repeat(self.paragraph_doc, np.diff(self.sentence_ptr))
        return [self.documents[d].text[s:e] for d, (s, e) in zip(doc_of.tolist(), self.sentence_spans.tolist(),
                                                                   strict=True)]

    def paragraph_texts(self) -> list[str]:
        return [self.paragraph_text(p) for p in range(len(self))]


def _cut(text: str, span: Span, limit: int) -> list[Span]:
    """A sentence longer than `limit` characters as pieces of at most `limit`, cut at the last whitespace."""
    start, end = span
    pieces = []
    while end - start > limit:
        stop = start + limit
        space = max(text.rfind(" ", start + limit // 2, stop), text.rfind("\n", start + limit // 2, stop))
        stop = space if space > start else stop
        pieces.append(Span(start, stop))
        start = stop
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        pieces.append(Span(start, end))
    return pieces


def _sentences(text: str, start: int, end: int, limit: int) -> tuple[list[Span], int]:
    """Sentence spans (document coordinates) of text[start:end], overlong ones cut; and how many were cut."""
    out, cut = [], 0
    for s, e in split_spans(text[start:end]):
        pieces = _cut(text, Span(start + s, start + e), limit)
        cut += len(pieces) > 1
        out += pieces
    return out, cut


def _blocks(text: str) -> list[tuple[int, int]]:
    """Blank-line separated blocks, trimmed of surrounding whitespace; whitespace-only blocks vanish."""
    blocks, start = [], 0
    for match in [*BLANK_LINES.finditer(text), None]:
        end = match.start() if match else len(text)
        block = text[start:end]
        if block.strip():
            lead = len(block) - len(block.lstrip())
            blocks.append((start + lead, start + len(block.rstrip())))
        start = match.end() if match else len(text)
    return blocks


def segment(documents: list[Document], segmenter: Segmenter) -> Collection:
    """Cut every document into paragraphs with their sentences."""
    para_doc, para_spans, ptr, sent_spans, empty, cut_total = [], [], [0], [], [], 0
    for index, doc in enumerate(documents):
        text = doc.text
        blocks = _blocks(text)
        if not blocks:
            empty.append(doc.id)
            continue
        windows = segmenter.mode == "window" or (segmenter.mode == "auto" and len(blocks) == 1
                                                 and not BLANK_LINES.search(text))
        if windows:
            sentences, cut = _sentences(text, blocks[0][0], blocks[-1][1], segmenter.max_sentence_chars)
            groups = [sentences[i:i + segmenter.window]
                      for i in range(0, max(len(sentences) - segmenter.window, 0) + 1, segmenter.stride)]
            last = groups[-1][-1] if groups else None
            if last is not None and last != sentences[-1]:  # the stride left a tail: one more window ends the text
                groups.append(sentences[-segmenter.window:])
        else:
            groups, cut = [], 0
            for start, end in blocks:
                sentences, c = _sentences(text, start, end, segmenter.max_sentence_chars)
                groups.append(sentences)
                cut += c
        cut_total += cut
        for group in groups:
            para_doc.append(index)
            para_spans.append((group[0].start, group[-1].end))
            sent_spans += group
            ptr.append(len(sent_spans))
    return Collection(documents, np.asarray(para_doc, dtype=np.int64),
                      np.asarray(para_spans, dtype=np.int64).reshape(-1, 2), np.asarray(ptr, dtype=np.int64),
                      np.asarray(sent_spans, dtype=np.int64).reshape(-1, 2), empty, [], cut_total)


def _is_binary(path: Path) -> int | None:
    with path.open("rb") as handle:
        head = handle.read(BINARY_PROBE)
    offset = head.find(b"\0")
    return offset if offset >= 0 else None


def _read_folder(root: Path, on_bad_file: str, skipped: list[str]) -> list[Document]:
    files = sorted(p for p in root.rglob("*.txt") if p.is_file())
    if not files:
        raise ParasimError(f"{root}: no .txt documents in this folder (or its subfolders)")
    documents = []
    for path in files:
        offset = _is_binary(path)
        if offset is not None:
            message = f"{path}: a binary file, not text (NUL byte at offset {offset})"
            if on_bad_file != "skip":
                raise ParasimError(f"{message}; remove it or pass input.on_bad_file=skip to skip such files")
            warnings.warn(f"{message}; skipped", stacklevel=2)
            skipped.append(str(path))
            continue
        documents.append(Document(path.relative_to(root).as_posix(), read_text(path)))
    return documents


def _read_table(path: Path, id_column: str, text_column: str) -> list[Document]:
    offset = _is_binary(path)
    if offset is not None:
        raise ParasimError(f"{path}: a binary file, not JSONL/CSV text (NUL byte at offset {offset})")
    text = read_text(path)
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = [(i + 2, row) for i, row in enumerate(reader)]
    else:
        rows = jsonl_objects(text, path)
    if not rows:
        raise ParasimError(f"{path}: no documents in the file")
    documents, seen = [], {}
    for number, row in rows:
        for column in (id_column, text_column):
            if row.get(column) is None:
                raise ParasimError(f"{path}, line {number}: no {column!r} value; the file needs columns "
                                   f"{id_column!r} and {text_column!r} (input.id_column / input.text_column)")
        doc_id = str(row[id_column])
        if doc_id in seen:
            raise ParasimError(f"{path}: duplicate id {doc_id!r} (lines {seen[doc_id]} and {number}); ids must be "
                               "unique, or pairs could not say which document they came from")
        seen[doc_id] = number
        documents.append(Document(doc_id, str(row[text_column]).replace("\r\n", "\n").replace("\r", "\n")))
    return documents


def read_collection(path: str | Path, segmenter: Segmenter, id_column: str = "id", text_column: str = "text",
                    on_bad_file: str = "error") -> Collection:
    """A folder of .txt documents or a JSONL/CSV file, cut into paragraphs."""
    if on_bad_file not in ("error", "skip"):
        raise ParasimError(f"input.on_bad_file must be error or skip, got {on_bad_file!r}")
    path = Path(path)
    skipped: list[str] = []
    if path.is_dir():
        documents = _read_folder(path, on_bad_file, skipped)
    elif path.is_file():
        if path.suffix.lower() not in TABLE_SUFFIXES:
            raise ParasimError(f"{path}: use a folder of .txt files or a {'/'.join(TABLE_SUFFIXES)} file")
        documents = _read_table(path, id_column, text_column)
    else:
        raise ParasimError(f"{path}: no such file or folder")
    collection = segment(documents, segmenter)
    collection.skipped = skipped
    if collection.empty_documents:
        warnings.warn(f"{path}: {len(collection.empty_documents)} empty document(s) have no paragraphs: "
                      f"{', '.join(collection.empty_documents[:5])}", stacklevel=2)
    return collection
