"""The reference sentence splitter of SE-F1 (see shared spec), without the reference's end-of-text bug."""

from __future__ import annotations

SEPARATORS = frozenset(".!?\n")
MIN_PIECE_CHARS = 2


def split_sentences(text: str) -> list[str]:
    """Cut after every `.`, `!`, `?` or newline; pieces shorter than 2 characters merge backwards.

    A short previous piece also absorbs the next piece, so ``"Wait... what?"`` gives
    ``["Wait...", "what?"]``. Leading whitespace of each piece is stripped; empty pieces vanish.
    """
    raw: list[str] = []
    start = 0
    for i, char in enumerate(text):
        if char in SEPARATORS:
            raw.append(text[start : i + 1])
            start = i + 1
    raw.append(text[start:])

    pieces: list[str] = []
    for chunk in raw:
        piece = chunk.lstrip()
        if not piece:
            continue
        if pieces and (len(piece) < MIN_PIECE_CHARS or len(pieces[-1]) < MIN_PIECE_CHARS):
            pieces[-1] += piece
        else:
            pieces.append(piece)
    return pieces
