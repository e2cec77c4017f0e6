"""score.py: file/stdin formats, row order, pass-through, calibration, the distinct-sentence fast path."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra.utils import instantiate

from conftest import compose_eval, needs_weights
from parasim.evaluation import calibration
from parasim.evaluation.scorers import paragraph_scorers, sef1
from parasim.export.st_format import export_sentence_transformer
from parasim.models.encoder import build_tiny, load_pretrained
from parasim.weights import model_dir
from test_eval import run_script

PAIRS = [
    ("The cat sat on the mat. It was warm.", "A cat was sitting on the mat. The day was warm.", 1),
    ("Stocks fell sharply today.", "The weather is lovely.", 0),
    ("", "An empty first paragraph scores zero.", 0),
    ("The cat sat on the mat. It was warm.", "Stocks fell sharply today. It was warm.", 0),
]


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, calibration.Calibrator]:
    """A tiny exported model with a binned calibration map, as a training export ships it."""
    encoder = build_tiny(model_dir()).eval()
    rng = np.random.default_rng(0)
    calibrator = calibration.BinnedCalibrator(bins=100).fit(rng.random(64), rng.random(64) < 0.5)
    target = tmp_path_factory.mktemp("export") / "export"
    export_sentence_transformer(encoder, target, "---\nlibrary_name: sentence-transformers\n---\n",
                                extra_files={calibration.FILENAME: calibration.to_json(calibrator)})
    return target, calibrator


def expected(export: Path) -> tuple[np.ndarray, np.ndarray]:
    encoder = load_pretrained(export).eval()
    a, b = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
    return sef1(encoder, a, b), paragraph_scorers(encoder, a, b, bertscore=False)["cosine"]


def test_score_csv_file_to_jsonl_keeps_order_passes_columns_and_calibrates(tiny_export, tmp_path: Path) -> None:
    export, calibrator = tiny_export
    source = tmp_path / "pairs.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "paragraphs1", "paragraphs2", "label"])
        writer.writerows([[f"p{i}", a, b, label] for i, (a, b, label) in enumerate(PAIRS)])
    out = tmp_path / "scores.jsonl"
    result = run_script("score.py", f"model_dir={export}", f"input={source}", f"output={out}", "device=cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"p{i}" for i in range(len(PAIRS))]
    assert [r["label"] for r in rows] == [str(p[2]) for p in PAIRS]  # passed through as written
    assert all("paragraphs1" not in r for r in rows)
    raw, cosine = expected(export)
    np.testing.assert_allclose([r["sef1"] for r in rows], raw, atol=1e-6)
    np.testing.assert_allclose([r["cosine"] for r in rows], cosine, atol=1e-6)
    np.testing.assert_allclose([r["calibrated"] for r in rows], calibrator(raw), atol=1e-12)
    assert rows[2]["sef1"] == 0.0


def test_score_stdin_tsv_to_stdout_without_map(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export_sentence_transformer(build_tiny(model_dir()).eval(), export, "---\n")
    lines = ["paragraphs1\tparagraphs2"] + [f"{a}\t{b}" for a, b, _ in PAIRS]
    result = run_script("score.py", f"model_dir={export}", "input=-", "format=tsv", "output=-", "progress=false",
                        stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == len(PAIRS)
    assert all(set(r) == {"sef1", "cosine"} for r in rows)  # no calibration.json → no calibrated column
    np.testing.assert_allclose([r["sef1"] for r in rows], expected(export)[0], atol=1e-6)


def test_score_missing_column_is_one_line_error(tiny_export, tmp_path: Path) -> None:
    source = tmp_path / "pairs.jsonl"
    source.write_text(json.dumps({"text": "a", "other": "b"}) + "\n")
    result = run_script("score.py", f"model_dir={tiny_export[0]}", f"input={source}", f"output={tmp_path}/o.csv")
    assert result.returncode == 2
    assert "no column 'paragraphs1'" in result.stderr and "Traceback" not in result.stderr


def test_each_distinct_sentence_embedded_once_without_gradients() -> None:
    encoder = build_tiny(model_dir()).eval()
    encoder.packed = False  # the hook counts MPNetModel.forward calls, which the packed path does not make
    seen: list[int] = []

    def count(module, args, kwargs, output) -> None:
        assert torch.is_inference_mode_enabled()
        ids = kwargs.get("input_ids")
        seen.append(int((ids if ids is not None else kwargs["inputs_embeds"]).shape[0]))

    handle = encoder.transformer.register_forward_hook(count, with_kwargs=True)
    try:
        paragraphs = ["One. Two. Three.", "Two. Four.", "One. Two. Three."]
        a, b = paragraphs * 5, list(reversed(paragraphs)) * 5  # a corpus scored against itself
        scores = sef1(encoder, a, b)
        assert sum(seen) == 4  # One., Two., Three., Four.
        seen.clear()
        paragraph_scorers(encoder, a, b, bertscore=True)
        assert sum(seen) == 2  # two distinct paragraphs
    finally:
        handle.remove()
    assert not torch.as_tensor(scores).requires_grad
    assert scores[0] == pytest.approx(scores[2]) and len(scores) == 15


@needs_weights
@pytest.mark.slow
@pytest.mark.weights
def test_score_cli_matches_evaluation_path_real_weights(tmp_path: Path) -> None:
    """50 test pairs: score.py on the base model's directory gives eval.py's per-pair SE-F1 to 1e-5."""
    overrides = ["data.limits.train=4", "data.limits.val=8", "data.limits.test=50", "scorers=[]"]
    run = tmp_path / "eval"
    result = run_script("eval.py", *overrides, f"hydra.run.dir={run}", f"data.cache_dir={tmp_path}/prepared")
    assert result.returncode == 0, result.stderr[-3000:]
    evaluated = pd.read_csv(run / "scores.csv")
    evaluated = evaluated[evaluated["split"] == "test"].sort_values("index")
    assert len(evaluated) == 50

    cfg = compose_eval(overrides, tmp_path / "records")
    encoder = load_pretrained(model_dir())
    datamodule = instantiate(cfg.data, tokenizer=encoder.tokenizer, planner=encoder.planner, unit="sentences")
    datamodule.setup()
    records = datamodule.records["test"]
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps({"paragraphs1": r.text_a, "paragraphs2": r.text_b, "label": r.label}) + "\n"
                              for r in records))
    out = tmp_path / "scores.csv"
    result = run_script("score.py", f"model_dir={model_dir()}", f"input={source}", f"output={out}", "device=cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["label", "sef1", "cosine"]  # the base model ships no calibration map
    np.testing.assert_array_equal(scored["label"].to_numpy(), evaluated["label"].to_numpy())
    np.testing.assert_allclose(scored["sef1"].to_numpy(), evaluated["score"].to_numpy(), atol=1e-5, rtol=0)
