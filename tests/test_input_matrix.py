"""Bad input files through the real entry points (`scripts/train.py data=pairs`, `scripts/score.py`).

Each input has one documented outcome per entry point: a one-line error before training starts (naming the
file, the line where there is one, and the problem; exit 2, no traceback), or handling that trains with finite
losses and records what it did in dataset_card.json. The table is in README_reliability / the README.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

HEADER = ["paragraphs1", "paragraphs2", "label"]
BASE = [(f"The cat number {i} sat on the mat. It was happy.", f"A cat {i} was sitting on a mat. It felt good.", i % 2)
        for i in range(40)]
LONG = " ".join(["word"] * 2000)  # one sentence of 2,000 tokens
ODD = "Tab\there\x07bell\x00nul \u200b zero-width 😀🎉 emoji."
ODD_B = "Emoji 🐍 only 😀. \x1b[31mansi\x1b[0m"


def table(rows: list[tuple], header: list[str] = HEADER) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def bad_label(value: str) -> bytes:
    rows = list(BASE)
    rows[5] = (*rows[5][:2], value)  # file line 7
    return table(rows)


def duplicates() -> bytes:
    pick = random.Random(0)
    return table([BASE[pick.randrange(len(BASE))] for _ in range(10_000)])


EMPTY_ROWS = [("", "Something here.", 0), ("   \t ", "   ", 1), ("Text.", "\n\n", 0)] * 4
# name: (file content, train outcome, score outcome); an outcome is ("error", text) or ("ok", dataset-card checks)
MATRIX = {
    "empty_file": (b"", ("error", "the file is empty (no header, no pairs)"), ("ok", {})),
    "header_only": (table([]), ("error", "no pairs in the file (it is empty or has only a header)"), ("ok", {})),
    "empty_paragraphs": (table(BASE[:30] + EMPTY_ROWS), ("ok", {"empty_pairs": 12}), ("ok", {})),
    "no_terminator": (table([(f"no full stop {i} just words", f"none here {i} either", i % 2) for i in range(40)]),
                      ("ok", {"truncated_units": 0}), ("ok", {})),
    "sentence_2000_tokens": (table(BASE[:30] + [(LONG, LONG + " more", 1), (LONG, "Short one.", 0)] * 3),
                             ("ok", {"truncated_units": 2}), ("ok", {})),
    "control_chars_emoji": (table(BASE[:30] + [(ODD, ODD_B, 1), ("🙂🙂", "🙃", 0)] * 4),
                            ("ok", {}), ("ok", {})),
    "not_utf8": (b"paragraphs1,paragraphs2,label\n" + "".join(
        f"Caf\xe9 {i} is open.,The caf\xe9 {i} opened.,{i % 2}\n" for i in range(40)).encode("cp1252"),
        ("ok", {}), ("ok", {})),
    "missing_column": (table([(a, label) for a, _, label in BASE], ["paragraphs1", "label"]),
                       ("error", "no column 'paragraphs2'"), ("error", "no column 'paragraphs2'")),
    "misspelt_column": (table(BASE, ["paragraphs1", "paragraph2", "label"]),
                        ("error", "the file has columns: 'paragraphs1', 'paragraph2', 'label'"),
                        ("error", "the input has columns: 'paragraphs1', 'paragraph2', 'label'")),
    "label_2": (bad_label("2"), ("error", "line 7: label '2' is outside [0, 1]"), ("ok", {})),
    "label_minus_1": (bad_label("-1"), ("error", "line 7: label '-1' is outside [0, 1]"), ("ok", {})),
    "label_nan": (bad_label("NaN"), ("error", "line 7: the label is missing (NaN)"), ("ok", {})),
    "label_yes": (bad_label("yes"), ("error", "line 7: label 'yes' is not a number in [0, 1]"), ("ok", {})),
    "duplicates_10k": (duplicates(), ("ok", {"duplicate_pairs": 10_000 - len(BASE)}), ("ok", {})),
}


@pytest.fixture(scope="module")
def scorer_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model exported in sentence-transformers format, as score.py loads a trained run's export."""
    from parasim.export.st_format import export_sentence_transformer
    from parasim.models.encoder import build_tiny
    from parasim.weights import model_dir

    return export_sentence_transformer(build_tiny(model_dir()), tmp_path_factory.mktemp("tiny") / "export", "tiny\n")


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}  # what a user sees by default
    return subprocess.run([sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=env)


def assert_one_error(result: subprocess.CompletedProcess, path: Path, text: str) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-3000:]
    assert str(path) in errors[0] and text in errors[0], errors[0]


def input_rows(data: bytes) -> int:
    text = data.decode("utf-8", errors="replace")
    return max(0, len(list(csv.reader(io.StringIO(text, newline="")))) - 1)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MATRIX))
def test_bad_input(tmp_path: Path, scorer_model: Path, name: str) -> None:
    content, train_outcome, score_outcome = MATRIX[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content)
    out = tmp_path / "run"

    trained = run("scripts/train.py", "data=pairs", f"data.source.path={path}", "model=mpnet_tiny", "logger=csv",
                  "trainer.precision=32-true", "trainer=cpu", "trainer.max_steps=2", "eval_base=false", "test=false",
                  "export.enabled=false", f"hydra.run.dir={out}", f"data.cache_dir={tmp_path / 'prepared'}")
    kind, expected = train_outcome
    if kind == "error":
        assert_one_error(trained, path, expected)
        assert not (out / "csv" / "metrics.csv").exists() and not (out / "checkpoints").exists()  # before training
    else:
        assert trained.returncode == 0 and "Traceback" not in trained.stderr, trained.stderr[-3000:]
        with (out / "csv" / "metrics.csv").open() as handle:
            losses = [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]
        assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
        card = json.loads((out / "dataset_card.json").read_text())
        assert {key: card[key] for key in expected} == expected
        if name == "not_utf8":
            assert "not valid UTF-8" in trained.stderr and "decoded as cp1252" in trained.stderr

    scores = tmp_path / "scores.csv"
    scored = run("scripts/score.py", f"model_dir={scorer_model}", f"input={path}", f"output={scores}",
                 "progress=false")
    kind, expected = score_outcome
    if kind == "error":
        assert_one_error(scored, path, expected)
        assert not scores.exists()
        return
    assert scored.returncode == 0 and "Traceback" not in scored.stderr, scored.stderr[-3000:]
    with scores.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == input_rows(content)
    if not rows:
        assert scores.read_bytes() == b""  # nothing in, nothing out: not a lone newline that reads as one blank row
    assert all(0.0 <= float(r["sef1"]) <= 1.0 for r in rows)  # finite and in [0, 1], rounding overshoot clamped
    if name == "not_utf8":
        assert "not valid UTF-8" in scored.stderr
    if name == "empty_paragraphs":
        assert [float(r["sef1"]) for r in rows[30:]] == [0.0] * len(EMPTY_ROWS)  # SE-F1 of an empty side is 0
        assert [float(r["cosine"]) for r in rows[30:]] == [0.0] * len(EMPTY_ROWS)  # and so is its cosine
    if name.startswith("label_"):
        assert rows[5]["label"] == {"label_2": "2", "label_minus_1": "-1", "label_nan": "NaN",
                                    "label_yes": "yes"}[name]  # labels are passed through untouched
