"""The reference sentence splitter of SE-F1 (see shared spec), without the reference's end-of-text bug.

`split_spans` is the one implementation: it reports each sentence as a character range of the original text, and
`split_sentences` is derived from it, so a sentence and its span can never disagree. A piece is exactly
`text[start:end]`: the range starts at the piece's first non-whitespace character. A merged piece (one of under 2
characters joined to its neighbour) is the slice over both parts, so it keeps the whitespace between them:
``"A. b"`` gives ``["A. b"]`` where the reference concatenated the stripped parts (``"A.b"``). Only 1-character
pieces after whitespace are affected; the cut points are the reference's.
"""

from __future__ import annotations

from typing import NamedTuple

SEPARATORS = frozenset(".!?\n")
MIN_PIECE_CHARS = 2


class Span(NamedTuple):
    """A sentence as the half-open character range [start, end) of the text it was split from."""

    start: int
    end: int


def split_spans(text: str) -> list[Span]:
    """Cut after every `.`, `!`, `?` or newline; pieces shorter than 2 characters merge backwards.

    A short previous piece also absorbs the next piece, so ``"Wait... what?"`` gives the spans of
    ``["Wait...", "what?"]``. Leading whitespace of each piece is outside its span; empty pieces vanish.
    """
    spans: list[Span] = []
    start = 0
    cuts = [i + 1 for i, char in enumerate(text) if char in SEPARATORS]
    for end in [*cuts, len(text)]:
        first = start
        while first < end and text[first].isspace():
            first += 1
        chunk_start, start = first, end
        if first == end:
            continue
        if spans and (end - chunk_start < MIN_PIECE_CHARS or spans[-1].end - spans[-1].start < MIN_PIECE_CHARS):
            spans[-1] = Span(spans[-1].start, end)
        else:
            spans.append(Span(chunk_start, end))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`: the slices `split_spans` reports."""
    return [text[start:end] for start, end in split_spans(text)]
