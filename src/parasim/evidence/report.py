"""One self-contained HTML file that shows why each pair scored what it did (no network resources).

Each pair shows both paragraphs with their sentences highlighted: sentence i of side A has its own colour, and
a sentence of side B takes the colour of the A sentence it matches best, when that cosine is at least
`HIGHLIGHT_MIN` (stronger match, stronger colour). Beside them: the sentence × sentence cosine heatmap (each row's
best match outlined), SE-F1 with its precision and recall, and the calibrated probability and decision when the
export has them. Pairs can be sorted and filtered by score and searched by text.

The page (`report_page.html`, its `.css` and `.js` inlined) holds its data as one JSON block (cosines as
integers in thousandths) and builds the pairs with a few lines of JavaScript, 50 at a time as the reader scrolls
(sorting and filtering work on all of them), so 1,000 pairs are ≈ 2 MB and open at once (load time measured in
benchmarks/mining.py). `log_to_wandb` sends the same page to
a W&B run as `wandb.Html`, and the pairs with their alignments as a `wandb.Table`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import Logger

from parasim.evidence.alignment import Alignment
from parasim.loggers.wandb import wandb_loggers
from parasim.utils.files import write_text_atomic

HIGHLIGHT_MIN = 0.5  # a B sentence takes its best A match's colour from this cosine up
HEATMAP_MAX = 60  # sentences per side drawn in a heatmap (a window of the first ones beyond that)
TABLE_COLUMNS = ["pair", "sef1", "precision", "recall", "probability", "decision", "text_a", "text_b", "alignment"]


@dataclass
class ReportPair:
    """One pair as the report shows it: a name, both texts, the alignment, and optional probability/decision."""

    name: str
    text_a: str
    text_b: str
    alignment: Alignment
    sef1: float
    probability: float | None = None
    decision: bool | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # shown under the name (ids, label, spans)


def _pair_data(pair: ReportPair, index: int) -> dict[str, Any]:
    al = pair.alignment
    sim = al.similarity[:HEATMAP_MAX, :HEATMAP_MAX]
    return {
        "i": index, "name": pair.name, "ta": pair.text_a, "tb": pair.text_b,
        "sa": [list(s) for s in al.a.spans], "sb": [list(s) for s in al.b.spans],
        "ma": al.a.match.tolist(), "ca": [round(float(c), 4) for c in al.a.cosine],
        "mb": al.b.match.tolist(), "cb": [round(float(c), 4) for c in al.b.cosine],
        "sim": [[round(float(v) * 1000) for v in row] for row in sim],
        "f1": round(pair.sef1, 6), "p": round(al.precision, 6), "r": round(al.recall, 6),
        "prob": None if pair.probability is None else round(float(pair.probability), 6),
        "dec": None if pair.decision is None else bool(pair.decision), "details": dict(pair.details),
    }


def render(pairs: Sequence[ReportPair], title: str = "parasim report", meta: Mapping[str, Any] | None = None) -> str:
    """The report page for `pairs` (shown sorted by SE-F1, highest first)."""
    data = {"title": title, "meta": dict(meta or {}), "highlight": HIGHLIGHT_MIN,
            "pairs": [_pair_data(p, i) for i, p in enumerate(pairs)]}
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    page, style, script = (files("parasim.evidence").joinpath(f"report_page.{ext}").read_text(encoding="utf-8")
                           for ext in ("html", "css", "js"))
    return (page.replace("__TITLE__", html.escape(title)).replace("__STYLE__", style)
            .replace("__SCRIPT__", script).replace("__DATA__", payload))


def write(path: str | Path, pairs: Sequence[ReportPair], title: str = "parasim report",
          meta: Mapping[str, Any] | None = None) -> Path:
    return write_text(path, render(pairs, title, meta))


def write_text(path: str | Path, page: str) -> Path:
    """A rendered page to `path`, atomically."""
    return write_text_atomic(path, page)


def table_rows(pairs: Iterable[ReportPair]) -> list[list[Any]]:
    """Rows of the W&B table: one per pair, the alignment as JSON text."""
    return [[p.name, p.sef1, p.alignment.precision, p.alignment.recall, p.probability, p.decision, p.text_a,
             p.text_b, json.dumps(p.alignment.to_dict(), ensure_ascii=False)] for p in pairs]


def log_to_wandb(loggers: Iterable[Logger], page: str, pairs: Sequence[ReportPair], key: str = "report") -> None:
    """The page as `wandb.Html` under `key` and the pairs as a `wandb.Table` under `key/pairs`, on every W&B run."""
    runs = wandb_loggers(loggers)
    if not runs:
        return
    import wandb

    rows = table_rows(pairs)
    for logger in runs:
        logger.experiment.log({key: wandb.Html(page, inject=False),
                               f"{key}/pairs": wandb.Table(columns=TABLE_COLUMNS, data=rows)})
