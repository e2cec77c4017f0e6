"""Evidence: the alignment behind SE-F1 (recomputes it to 1e-6, spans slice back), score.py explain/report/W&B,
and the HTML report in a real headless Chromium (renders, highlights the first pair's alignment, not blank)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from conftest import PAIRS, tiny
from parasim.evaluation import calibration, threshold
from parasim.evaluation.scorers import sef1
from parasim.evidence import report
from parasim.evidence.alignment import align, explain
from parasim.export.st_format import export_sentence_transformer
from parasim.models.sef1 import EPS
from test_eval import run_script

EDGE = [("Hi. Yes!  No?\nOk", "Wait... what? A. b"), ("  Leading space. And more!", "x\n\ny")]
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser")
BROWSER = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


def recomputed(alignment: dict) -> float:
    """SE-F1 from what the alignment shows: mean of max(0, best cosine) per side."""
    def mean(side: list[dict]) -> float:
        return float(np.mean([max(0.0, r["cosine"]) for r in side])) if side and side[0]["match"] is not None else 0.0
    precision, recall = mean(alignment["b"]), mean(alignment["a"])
    return 2 * precision * recall / (precision + recall + EPS)


def test_alignment_recomputes_sef1_and_spans_slice_back() -> None:
    encoder = tiny()
    a, b = [p[0] for p in PAIRS] + [e[0] for e in EDGE], [p[1] for p in PAIRS] + [e[1] for e in EDGE]
    scores, alignments = explain(encoder, a, b)
    np.testing.assert_allclose(scores, sef1(encoder, a, b), atol=1e-6)  # explain reports score.py's SE-F1
    for text_a, text_b, score, al in zip(a, b, scores, alignments, strict=True):
        shown = al.to_dict()
        assert recomputed(shown) == pytest.approx(score, abs=1e-6)
        for side, text, other in (("a", text_a, text_b), ("b", text_b, text_a)):
            for row in shown[side]:
                start, end = row["span"]
                assert text[start:end] == row["text"]
                if row["match"] is not None:
                    s, e = row["match_span"]
                    assert other[s:e] == row["match_text"]
                    assert row["cosine"] == pytest.approx(float(al.similarity.max(axis=1 if side == "a" else 0)
                                                                 [row["index"]]))
    assert alignments[2].sef1 == 0.0 and alignments[2].to_dict()["b"][0]["match"] is None  # empty side
    assert align(encoder, a[0], b[0]).sef1 == pytest.approx(scores[0], abs=1e-6)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict], float]:
    """score.py with explain, report, a threshold re-chosen for fpr=0.05 and W&B (offline), on a tiny export."""
    root = tmp_path_factory.mktemp("score")
    rng = np.random.default_rng(0)
    val, labels = rng.random(200), rng.random(200) < 0.5
    stored = threshold.add_to_json(calibration.to_json(calibration.BinnedCalibrator().fit(val, labels)),
                                   threshold.for_export(val, labels, None))
    export_sentence_transformer(tiny(), root / "export", "---\n", extra_files={calibration.FILENAME: stored})
    rows = [{"id": f"p{i}", "paragraphs1": x, "paragraphs2": y, "label": label} for i, (x, y, label) in
            enumerate([*PAIRS, *((x, y, 0.0) for x, y in EDGE)])]
    (root / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run_script("score.py", f"model_dir={root / 'export'}", f"input={root / 'in.jsonl'}",
                        f"output={root / 'out.jsonl'}", "explain=true", f"report={root / 'report.html'}",
                        "threshold.fpr=0.05", "wandb.enabled=true", f"wandb.dir={root}", "device=cpu", "progress=false")
    assert result.returncode == 0, result.stderr[-3000:]
    out = [json.loads(line) for line in (root / "out.jsonl").read_text().splitlines()]
    return root, out, threshold.choose(val, labels, fpr=0.05)["score"]


def test_score_explain_adds_alignments_and_decisions(scored) -> None:
    _, rows, cut = scored
    assert [r["id"] for r in rows] == [f"p{i}" for i in range(len(PAIRS) + len(EDGE))]
    for row in rows:
        assert recomputed(row["alignment"]) == pytest.approx(row["sef1"], abs=1e-6)
        assert row["paraphrase"] == (row["sef1"] >= cut)


def test_score_report_and_table_go_to_wandb(scored) -> None:
    root, rows, _ = scored
    run = next((root / "wandb").glob("offline-run-*"))
    pages = list(run.rglob("media/html/*.html"))
    tables = list(run.rglob("*.table.json"))
    assert len(pages) == 1 and "parasim: scored pairs" in pages[0].read_text()
    table = json.loads(tables[0].read_text())
    assert table["columns"] == report.TABLE_COLUMNS and len(table["data"]) == len(rows)
    assert json.loads(table["data"][0][-1])["sef1"] == pytest.approx(rows[0]["sef1"], abs=1e-6)


class Marks(HTMLParser):
    """The highlighted sentences of the first pair card in a rendered DOM: (side, index, colour index, style)."""

    def __init__(self) -> None:
        super().__init__()
        self.cards, self.side, self.marks = 0, None, []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "section" and "pair" in (attrs.get("class") or ""):
            self.cards += 1
        if self.cards == 1 and tag == "div" and attrs.get("class") == "side":
            self.side = "a" if self.side is None else "b"
        if self.cards == 1 and tag == "mark":
            self.marks.append((self.side, int(attrs["data-i"]), attrs.get("data-c"), attrs.get("style", "")))


def rgb(style: str) -> tuple[str, ...]:
    """The colour of a serialized `background: rgb(…)` / `rgba(…)` style, without its alpha."""
    return tuple(re.search(r"rgba?\((\d+), (\d+), (\d+)", style).groups())


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--window-size=1280,900",
             "--virtual-time-budget=5000"]
    return subprocess.run([BROWSER, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium; `apt-get install chromium-headless-shell` "
                                            "(.ci/run installs it, so CI runs this test)")
def test_report_renders_in_headless_chromium_with_the_first_pair_highlighted(scored, tmp_path: Path) -> None:
    root, rows, _ = scored
    page = root / "report.html"
    text = page.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # self-contained: nothing fetched
    dom = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-ready="1"' in dom.stdout and f'data-shown="{len(rows)}"' in dom.stdout  # the script ran
    marks = Marks()
    marks.feed(dom.stdout)
    first = max(rows, key=lambda r: r["sef1"])  # shown first: sorted by SE-F1
    a = {i: (c, style) for side, i, c, style in marks.marks if side == "a"}
    b = {i: (c, style) for side, i, c, style in marks.marks if side == "b"}
    assert len(a) == len(first["alignment"]["a"]) and len(b) == len(first["alignment"]["b"])
    assert all(c == str(i) and "background" in style for i, (c, style) in a.items())  # every A sentence coloured
    highlighted = 0
    for row in first["alignment"]["b"]:
        colour, style = b[row["index"]]
        if row["cosine"] >= report.HIGHLIGHT_MIN:  # B takes the colour of its best A match
            assert colour == str(row["match"]) and "background" in style
            assert rgb(style) == rgb(a[row["match"]][1])  # the same colour (alpha shows the match's strength)
            highlighted += 1
    assert highlighted > 0
    shot = tmp_path / "shot.png"
    result = chromium(f"--screenshot={shot}", page.as_uri(), profile=tmp_path / "profile-shot")
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    pixels = imread(shot)[..., :3]
    assert pixels.std() > 0.05  # not blank
    saturated = (pixels.max(axis=-1) - pixels.min(axis=-1)) > 0.3
    assert saturated.mean() > 0.002  # the highlight colours are on screen
