"""The held-out evaluation suite: its config, paragraph pairs built from MRPC/PAWS test pairs, the Spearman interval,
model specs, and one tiny-model run end to end (capped sets) with its table, JSON, scores and W&B table."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from scipy.stats import spearmanr

from conftest import compose_eval
from parasim.corpora import corpus_path
from parasim.data.mtmp_pan import _as_sentence, sentence_pairs
from parasim.data.readers import read_mrpc, read_paws, read_sts
from parasim.errors import ParasimError
from parasim.evaluation.heldout import CORPORA, load_set
from parasim.evaluation.suite import ModelSpec, Suite, parse_models
from parasim.evaluation.suite_stats import difference_intervals, paired_spearman

TEST_FILES = {"mrpc": ("mrpc", "msr_paraphrase_test.txt", read_mrpc), "paws": ("paws_wiki", "test.tsv", read_paws)}


def test_default_suite_composes_with_its_sets_caps_and_the_data_configs_test_split(tmp_path: Path) -> None:
    assert compose_eval([], tmp_path).get("suite") is None  # `suite: null` keeps today's single evaluation
    cfg = compose_eval(["suite=default"], tmp_path)
    assert list(cfg.suite.sets) == ["default_test", "mrpc_paragraphs", "paws_paragraphs", "stsb", "mrpc", "paws"]
    assert cfg.suite.sets.paws.limit == cfg.suite.sets.paws_paragraphs.limit == 2000
    assert cfg.suite.sets.default_test.limit is None and cfg.suite.sets.stsb.metrics == ["spearman"]
    assert cfg.suite.n_resamples == 2000 and cfg.suite.confidence == 0.95
    suite = instantiate(cfg.suite)
    assert len(suite.data_source()["test"]) == 250  # the default data's whole test split, not the run's 160
    assert all("test" in file for _, file, _ in CORPORA.values())  # the suite reads test splits only
    quick = compose_eval(["suite=quick", "suite.sets.stsb.limit=30"], tmp_path).suite
    assert (quick.sets.stsb.limit, quick.sets.paws.limit, quick.n_resamples) == (30, 160, 200)
    with pytest.raises(ParasimError, match=r"suite.sets.x: unknown keys \['lmit'\].*corpus='snli'"):
        Suite({"x": {"corpus": "snli", "lmit": 3, "metrics": ["mse"]}})


def parse(text: str, sentences: dict[str, str]) -> list[str] | None:
    """`text` as the builder joins sentences (each terminated, one space between), if it is exactly such a join of
    `sentences` (terminated form → sentence); None otherwise."""
    if not text:
        return []
    for joined, sentence in sentences.items():
        if text == joined or text.startswith(joined + " "):
            rest = parse(text[len(joined) + 1 :], sentences)
            if rest is not None:
                return [sentence, *rest]
    return None


@pytest.mark.parametrize("corpus", ["mrpc", "paws"])
def test_paragraph_pairs_from_test_sentence_pairs_keep_labels_and_sentences(corpus: str) -> None:
    folder, file, reader = TEST_FILES[corpus]
    pairs = reader(Path(corpus_path(folder)) / file)
    spec = {"corpus": corpus, "level": "paragraph", "limit": 300, "min_k": 2, "max_k": 4, "metrics": ["roc_auc"]}
    held = load_set(f"{corpus}_paragraphs", spec, seed=0, data_source=None)
    assert held.source.startswith(f"{len(held.records)} paragraph pairs built from 300 of {len(pairs):,}")
    assert held.cap == f"from 300 of {len(pairs):,} sentence pairs"
    labels = Counter(r.label for r in held.records)
    assert set(labels) == {0.0, 1.0} and labels[1.0] == labels[0.0]  # balanced, binary
    triples = sentence_pairs(pairs)
    sentences = {_as_sentence(s): s for a, b, _ in triples for s in (a, b)}  # the test split's sentences only
    partner: dict[tuple[str, str], set[int]] = {}  # PAWS repeats a few pairs with both labels
    for a, b, label in triples:
        partner.setdefault((a, b), set()).add(label)
    kinds = Counter()
    for record in held.records:
        side_a, side_b = parse(record.text_a, sentences), parse(record.text_b, sentences)
        assert side_a and side_b and 2 <= len(side_a) <= 4, record  # joined test sentences, nothing else
        linked = [any(record.label in partner.get((a, b), ()) for b in side_b) for a in side_a]
        if all(linked):
            kinds["positive" if record.label == 1.0 else "hard negative"] += 1  # the corpus's own pairs, joined
        else:
            assert record.label == 0.0 and not any(linked), record  # A against another group's B
            kinds["random negative"] += 1
    assert kinds["positive"] == labels[1.0] and kinds["hard negative"] > 0 and kinds["random negative"] > 0
    with pytest.raises(ParasimError, match="0/1-labelled"):
        sentence_pairs(read_sts(Path(corpus_path("stsbenchmark")) / "sts-test.csv"))


def test_spearman_difference_is_paired_and_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    gold = rng.uniform(0, 1, 300)
    a, b = gold + rng.normal(0, 0.5, 300), gold + rng.normal(0, 0.2, 300)
    interval = paired_spearman(gold, a, b, n_resamples=400, seed=1, confidence=0.95)
    assert interval.value == pytest.approx(spearmanr(gold, b)[0] - spearmanr(gold, a)[0], abs=1e-12)
    assert 0 < interval.low < interval.value < interval.high
    same = difference_intervals(gold, a, a, ["spearman", "mse"], n_resamples=100, seed=0, confidence=0.95)
    assert list(same) == ["spearman", "mse"]
    assert all((i.value, i.low, i.high) == (0.0, 0.0, 0.0) for i in same.values())


def test_model_specs_labels_and_refusals(tmp_path: Path) -> None:
    run = tmp_path / "2026-01-02_03-04-05_000006"
    (run / "export").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    specs = parse_models(["base", str(run / "export"), f"tuned={run / 'checkpoints' / 'last.ckpt'}", "mine=base"])
    assert [s.label for s in specs] == ["base", f"{run.name}-export", "tuned", "mine"]
    assert specs[1].export == run / "export" and specs[2].checkpoint == run / "checkpoints" / "last.ckpt"
    assert specs[3] == ModelSpec("mine")
    with pytest.raises(ParasimError, match="repeated: \\['base'\\]"):
        parse_models(["base", "base"])
    with pytest.raises(ParasimError, match="neither `base`"):
        parse_models(["base", str(tmp_path / "missing")])


def test_tiny_suite_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three tiny models (the base, the same again, another seed's export) on capped sets: identical models differ
    by exactly 0, scores are the scorers' SE-F1 / cosine, and every output is written (W&B offline table too)."""
    from parasim.evaluate import evaluate
    from parasim.evaluation.scorers import score_texts
    from parasim.export.st_format import export_sentence_transformer
    from parasim.models.encoder import build_tiny
    from parasim.weights import model_dir

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    other = export_sentence_transformer(build_tiny(model_dir(), seed=7), tmp_path / "other", card="---\n---\n")
    limits = [f"suite.sets.{name}.limit={n}" for name, n in
              [("default_test", 24), ("mrpc_paragraphs", 60), ("paws_paragraphs", 60), ("stsb", 40), ("mrpc", 40),
               ("paws", 40)]]
    run = tmp_path / "run"
    cfg = compose_eval(["model=mpnet_tiny", "suite=quick", *limits, "suite.n_resamples=100", "device=cpu",
                        "logger=wandb", f'models=[base,"same=base",{other}]'], run)
    metrics = evaluate(cfg)

    table = (run / "suite.md").read_text()
    header = "| set | pairs | metric | base | same | other | Δ same − base (95 % CI) | Δ other − base (95 % CI) |"
    assert header in table
    assert "| 24 (of 250) | ROC-AUC |" in table and "| 40 (of 8,000) | MSE |" in table and "Spearman" in table
    report = json.loads((run / "suite.json").read_text())
    assert [m["label"] for m in report["models"]] == ["base", "same", "other"]
    assert len(report["sets"]) == 6 and report["paragraph_score"] == "SE-F1"
    for held in report["sets"]:
        assert all(v == {"value": 0.0, "low": 0.0, "high": 0.0} for v in held["differences"]["same"].values())
    assert any(v["value"] != 0.0 for held in report["sets"] for v in held["differences"]["other"].values())
    for held in report["sets"]:  # Δ is the later model minus the first, on the same pairs
        for metric, diff in held["differences"]["other"].items():
            expected = held["values"]["other"][metric] - held["values"]["base"][metric]
            assert diff["value"] == pytest.approx(expected, abs=1e-5) and diff["low"] <= diff["high"], metric
    assert metrics["stsb/other-base/spearman_diff"] == report["sets"][3]["differences"]["other"]["spearman"]["value"]
    assert json.loads((run / "metrics.json").read_text()) == pytest.approx(metrics)

    scores = pd.read_csv(run / "suite_scores.csv")
    assert scores.groupby("set", sort=False).size().to_dict() == {h["name"]: h["pairs"] for h in report["sets"]}
    encoder = build_tiny(model_dir()).eval()
    for name, scorer in (("default_test", "sef1"), ("mrpc", "cosine")):
        held = load_set(name, cfg.suite.sets[name], 0, instantiate(cfg.suite).data_source)
        expected = score_texts(encoder, [r.text_a for r in held.records], [r.text_b for r in held.records], [scorer])
        np.testing.assert_allclose(scores[scores["set"] == name]["base"], expected[scorer], atol=1e-6)
    assert list(run.glob("wandb/offline-run-*/files/media/table/suite_*.table.json"))
