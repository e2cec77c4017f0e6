"""The one record type every reader produces, so later stages never care where pairs came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PairRecord:
    """Two paragraphs and a label in [0, 1] (1 = paraphrase); `subset` names the source corpus part."""

    text_a: str
    text_b: str
    label: float
    subset: str = "default"
