"""Data layer through Hydra: Webis/ALECS/pair-file configs, stable splits, mixtures, bad input, dataset card."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.errors import ConfigCompositionException

from conftest import compose_train
from parasim.data.cleaning import stratified_head
from parasim.data.collate import PairCollator
from parasim.data.datamodule import PairDataModule
from parasim.data.mixture import MixtureSampler
from parasim.data.records import PairRecord
from parasim.data.splits import FRACTIONS, SPLITS, split_of, split_records
from parasim.errors import ParasimError
from parasim.train import build, train

# ---------------------------------------------------------------- fixtures written inside the tests


def write_webis(root: Path, numbers: range, verdict: str = "Yes") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        meta = ["Original: doc", "Original-Author: someone", "Task-ID: 7", f"Paraphrase: {verdict}", "Time: 42"]
        (root / f"{n}-metadata.txt").write_text("\n".join(meta) + "\n", encoding="utf-8")
        (root / f"{n}-original.txt").write_text(f"Original {n} tells of harbour {n}. Then ship {n} left.\n")
        (root / f"{n}-paraphrase.txt").write_text(f"Ship {n} sailed away. Harbour {n} was quiet, it says.\n")
    return root


def write_alecs(root: Path, originals: int, per_original: int = 4) -> Path:
    (root / "og").mkdir(parents=True)
    (root / "mg").mkdir()
    for i in range(originals):
        (root / "og" / f"essay{i}.txt").write_text(f"Essay {i} argues point {i}. It concludes firmly.")
        for k in range(per_original):
            (root / "mg" / f"essay{i}0{k}.txt").write_text(f"Rewrite {k} of essay {i}. Point {i} holds.")
    return root


def write_csv(path: Path, rows: list[tuple[str, str, object]], header: tuple[str, ...] = ("paragraphs1", "paragraphs2",
                                                                                             "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def numbered_rows(start: int, stop: int) -> list[tuple[str, str, object]]:
    return [(f"Sentence {i} of the first text. More {i}.", f"The first text {i} reworded. Again {i}.", i % 2)
            for i in range(start, stop)]


def datamodule(overrides: list[str], tmp_path: Path) -> PairDataModule:
    """Compose the train config with `overrides`, build it as train.py does, and set the data up."""
    _, dm = build(compose_train(overrides, tmp_path / "run"))
    dm.setup()
    return dm


def subset_counts(dm: PairDataModule, split: str) -> Counter:
    return Counter(r.subset for r in dm.records[split])


# ---------------------------------------------------------------- Webis and ALECS through Hydra


def test_webis_folder_through_hydra(tmp_path: Path) -> None:
    root = write_webis(tmp_path / "webis", range(1, 81))
    write_webis(root, range(81, 91), verdict="No")
    dm = datamodule(["data=webis", f"data.source.root={root}"], tmp_path)

    assert dm.subset_names == ["webis_pos", "webis_random"]
    records = [r for s in SPLITS for r in dm.records[s]]
    assert Counter(r.subset for r in records) == {"webis_pos": 80, "webis_random": 80}
    assert {r.label for r in records if r.subset == "webis_pos"} == {1.0}
    assert {r.label for r in records if r.subset == "webis_random"} == {0.0}
    for split in SPLITS:  # split sizes follow the hash of each original; negatives match positives per split
        expected = sum(split_of(f"Original {n} tells of harbour {n}. Then ship {n} left.", 0) == split
                       for n in range(1, 81))
        assert subset_counts(dm, split) == {"webis_pos": expected, "webis_random": expected}
    sizes = [len(dm.records[s]) for s in SPLITS]
    assert sizes[0] > max(sizes[1:]) and min(sizes) > 0
    positives = {(r.text_a, r.text_b) for r in records if r.label == 1.0}
    for split in SPLITS:  # a negative never pairs a text with its own paraphrase, nor crosses splits
        texts = {r.text_a for r in dm.records[split] if r.label == 1.0}
        for r in dm.records[split]:
            if r.subset == "webis_random":
                assert (r.text_a, r.text_b) not in positives
                assert r.text_a in texts
    assert len(dm.corpus.splits["train"]) == len(dm.records["train"])


def test_webis_keep_negatives_and_negative_count(tmp_path: Path) -> None:
    root = write_webis(tmp_path / "webis", range(1, 41))
    write_webis(root, range(41, 51), verdict="No")
    dm = datamodule(["data=webis", f"data.source.root={root}", "data.source.keep_negatives=true",
                     "data.source.negatives=20"], tmp_path)
    total = sum((subset_counts(dm, s) for s in SPLITS), Counter())
    assert total == {"webis_pos": 40, "webis_neg": 10, "webis_random": 20}
    assert {r.label for s in SPLITS for r in dm.records[s] if r.subset == "webis_neg"} == {0.0}


def test_webis_missing_files_are_skipped_with_a_warning(tmp_path: Path) -> None:
    root = write_webis(tmp_path / "webis", range(1, 31))
    (root / "3-paraphrase.txt").unlink()
    (root / "5-metadata.txt").write_text("Original: doc\nTime: 42\n")
    with pytest.warns(UserWarning, match="skipped 2 of 30 Webis pairs"):
        dm = datamodule(["data=webis", f"data.source.root={root}", "data.source.negatives=0"], tmp_path)
    texts = {r.text_a for s in SPLITS for r in dm.records[s]}
    assert len(texts) == 28
    assert not any(t.startswith(("Original 3 ", "Original 5 ")) for t in texts)


def test_alecs_folder_through_hydra(tmp_path: Path) -> None:
    root = write_alecs(tmp_path / "alecs", originals=60)
    dm = datamodule(["data=alecs", f"data.source.root={root}"], tmp_path)
    records = [r for s in SPLITS for r in dm.records[s]]
    assert Counter(r.subset for r in records) == {"alecs_pos": 240, "alecs_random": 240}
    assert dm.dataset_card()["duplicate_pairs"] == 0
    assert {r.label for r in records if r.subset == "alecs_pos"} == {1.0}
    assert {r.label for r in records if r.subset == "alecs_random"} == {0.0}
    home = {}
    for split in SPLITS:  # the four paraphrases of an original share its split
        for r in dm.records[split]:
            if r.subset == "alecs_pos":
                assert home.setdefault(r.text_a, split) == split
        assert subset_counts(dm, split)["alecs_pos"] == 4 * sum(s == split for s in home.values())
    assert all(subset_counts(dm, s)["alecs_pos"] > 0 for s in SPLITS)
    for r in records:  # random negatives never pair an essay with one of its own rewrites
        if r.label == 0.0:
            essay = r.text_a.split()[1]
            assert f"of essay {essay}." not in r.text_b


# ---------------------------------------------------------------- splits


def test_split_of_a_pair_does_not_change_when_unrelated_pairs_are_added(tmp_path: Path) -> None:
    small = write_csv(tmp_path / "small.csv", numbered_rows(0, 60))
    grown_rows = numbered_rows(1000, 1040) + numbered_rows(0, 30) + numbered_rows(2000, 2100) + numbered_rows(30, 60)
    grown = write_csv(tmp_path / "grown.csv", grown_rows)
    before = datamodule(["data=pairs", f"data.source.path={small}"], tmp_path / "a")
    after = datamodule(["data=pairs", f"data.source.path={grown}"], tmp_path / "b")
    where_before = {(r.text_a, r.text_b): s for s in SPLITS for r in before.records[s]}
    where_after = {(r.text_a, r.text_b): s for s in SPLITS for r in after.records[s]}
    assert len(where_before) == 60 and len(where_after) == 200
    assert {k: where_after[k] for k in where_before} == where_before
    assert set(where_before.values()) == set(SPLITS)

    webis = write_webis(tmp_path / "webis", range(1, 41))
    first = datamodule(["data=webis", f"data.source.root={webis}"], tmp_path / "c")
    write_webis(webis, range(41, 141))
    second = datamodule(["data=webis", f"data.source.root={webis}"], tmp_path / "d")
    home = {r.text_a: s for s in SPLITS for r in second.records[s] if r.label == 1.0}
    assert all(home[r.text_a] == s for s in SPLITS for r in first.records[s] if r.label == 1.0)


def test_split_fractions_and_seed() -> None:
    records = [PairRecord(f"a{i}", f"b{i}", 1.0) for i in range(6000)]
    split = split_records(records, seed=0)
    for name, fraction in zip(SPLITS, FRACTIONS, strict=True):
        assert abs(len(split[name]) / len(records) - fraction) < 0.015
    other = split_records(records, seed=1)
    assert other["test"] != split["test"]
    assert split_records(records, seed=0) == split


def test_pre_split_files_and_limit(tmp_path: Path) -> None:
    paths = {s: write_csv(tmp_path / f"{s}.csv", numbered_rows(100 * i, 100 * i + n))
             for i, (s, n) in enumerate(zip(SPLITS, (30, 8, 9), strict=True))}
    overrides = ["data=pairs", *(f"data.source.{s}_path={p}" for s, p in paths.items())]
    dm = datamodule(overrides, tmp_path / "a")
    assert [len(dm.records[s]) for s in SPLITS] == [30, 8, 9]
    assert dm.subset_names == ["pairs"]
    assert dm.records["val"][0].text_a == "Sentence 100 of the first text. More 100."
    limited = datamodule([*overrides, "data.limit=5"], tmp_path / "b")
    assert [len(limited.records[s]) for s in SPLITS] == [5, 5, 5]


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl"])
def test_pairs_format_from_extension(tmp_path: Path, suffix: str) -> None:
    rows = numbered_rows(0, 20)
    path = tmp_path / f"data{suffix}"
    if suffix == ".tsv":
        path.write_text("a\tb\ty\n" + "".join(f"{a}\t{b}\t{y}\n" for a, b, y in rows), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps({"a": a, "b": b, "y": y}) + "\n" for a, b, y in rows), encoding="utf-8")
    dm = datamodule(["data=pairs", f"data.source.path={path}", "data.source.columns.text_a=a",
                     "data.source.columns.text_b=b",
                     "data.source.columns.label=y"], tmp_path)
    assert sorted((r.text_a, r.text_b, r.label) for s in SPLITS for r in dm.records[s]) == sorted(
        (a, b, float(y)) for a, b, y in rows)


def test_limit_keeps_each_subset_share() -> None:
    records = [PairRecord(f"a{i}", "b", 1.0, "big") for i in range(80)] + [
        PairRecord(f"c{i}", "d", 0.0, "small") for i in range(20)]
    head = stratified_head(records, 10)
    assert Counter(r.subset for r in head) == {"big": 8, "small": 2}
    assert stratified_head(records[:80], 10) == records[:10]


# ---------------------------------------------------------------- mixtures


def test_mixture_first_exhausted_proportions_over_a_long_sample() -> None:
    sizes = [10_000, 10_000, 2_500, 2_500]
    subset_of = np.repeat(np.arange(4), sizes)
    names = ["w+", "w-", "a+", "a-"]
    probabilities = {"w+": 0.4, "w-": 0.4, "a+": 0.1, "a-": 0.1}
    sampler = MixtureSampler(subset_of, names, probabilities, "first_exhausted", seed=3)
    plan = np.asarray(list(sampler))
    assert len(plan) == len(sampler) > 20_000
    assert len(set(plan.tolist())) == len(plan)  # each pair at most once
    drawn = np.bincount(subset_of[plan], minlength=4)
    assert np.abs(drawn / len(plan) - [0.4, 0.4, 0.1, 0.1]).max() < 0.01
    assert (drawn == sizes).sum() == 1  # stopped when exactly one subset ran out
    assert np.array_equal(plan, MixtureSampler(subset_of, names, probabilities, seed=3).plan())
    sampler.set_epoch(1)
    assert not np.array_equal(plan[:100], sampler.plan()[:100])


def test_mixture_all_exhausted_oversamples_until_every_subset_is_seen() -> None:
    sizes = [5_000, 5_000, 2_000, 2_000]
    subset_of = np.repeat(np.arange(4), sizes)
    probabilities = {"a": 0.4, "b": 0.4, "c": 0.1, "d": 0.1}
    plan = MixtureSampler(subset_of, list("abcd"), probabilities, "all_exhausted", seed=0).plan()
    assert len(plan) > 18_000
    assert set(plan.tolist()) == set(range(sum(sizes)))  # every pair seen at least once
    drawn = np.bincount(subset_of[plan], minlength=4)
    assert np.abs(drawn / len(plan) - [0.4, 0.4, 0.1, 0.1]).max() < 0.01
    assert drawn[0] > sizes[0]  # the large subsets were restarted


def test_mixture_refuses_unknown_or_missing_subsets() -> None:
    subset_of = np.asarray([0, 0, 1])
    with pytest.raises(ParasimError, match=r"does not have; it has: \['x', 'y'\]"):
        MixtureSampler(subset_of, ["x", "y"], {"x": 0.5, "y": 0.3, "z": 0.2})
    with pytest.raises(ParasimError, match=r"no probability for training subset\(s\) \['y'\]"):
        MixtureSampler(subset_of, ["x", "y"], {"x": 1.0})
    with pytest.raises(ParasimError, match="stopping must be one of"):
        MixtureSampler(subset_of, ["x", "y"], {"x": 1.0, "y": 1.0}, stopping="never")


def test_seed_mixture_config_over_webis_and_alecs(tmp_path: Path) -> None:
    webis = write_webis(tmp_path / "webis", range(1, 601))
    alecs = write_alecs(tmp_path / "alecs", originals=60, per_original=1)
    dm = datamodule(["data=seed_mixture", f"data.source.parts.webis.root={webis}",
                     f"data.source.parts.alecs.root={alecs}"], tmp_path)
    assert set(dm.subset_names) == {"webis_pos", "webis_random", "alecs_pos", "alecs_random"}
    assert all(len(subset_counts(dm, s)) == 4 for s in ("val", "test"))  # eval splits hold every subset
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, MixtureSampler)
    ids = torch.cat([batch.subsets for batch in loader])
    names = np.asarray(dm.subset_names)[ids.numpy()]
    share = Counter(names.tolist())
    train = subset_counts(dm, "train")  # ALECS (p .1, ~42 train pairs each) runs out first
    assert share["alecs_pos"] == train["alecs_pos"] or share["alecs_random"] == train["alecs_random"]
    assert abs(share["webis_pos"] / len(names) - 0.4) < 0.06
    assert len(ids) == len(loader.sampler)
    with pytest.raises(ParasimError, match=r"names subset\(s\) \['webis_neg'\] that the training split does not"):
        datamodule(["data=seed_mixture", f"data.source.parts.webis.root={webis}",
                    f"data.source.parts.alecs.root={alecs}",
                    "+data.mixture.probabilities.webis_neg=0.1"], tmp_path / "bad")


# ---------------------------------------------------------------- bad input


def test_cp1252_file_loads_with_a_warning_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    rows = "".join(f"Caf\xe9 {i} opened. It was na\xefve.,Caf\xe9 {i} began trading.,1\n" for i in range(20))
    path.write_bytes(("paragraphs1,paragraphs2,label\n" + rows).encode("cp1252"))
    with pytest.warns(UserWarning, match=r"legacy\.csv: not valid UTF-8.*cp1252"):
        dm = datamodule(["data=pairs", f"data.source.path={path}"], tmp_path)
    assert all(r.text_a.startswith("Café") for s in SPLITS for r in dm.records[s])


def test_empty_paragraphs_are_kept_scoring_zero_unless_drop_empty(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [*numbered_rows(0, 30), ("   ", "Something here.", 0), ("", "", 1)])
    module, dm = build(compose_train(["data=pairs", f"data.source.path={path}"], tmp_path / "a"))
    dm.setup()
    assert dm.dataset_card()["empty_pairs"] == 2
    split = next(s for s in SPLITS if any(not r.text_a.strip() for r in dm.records[s]))
    rows = [i for i, r in enumerate(dm.records[split]) if not r.text_a.strip()]
    prepared = dm.corpus.splits[split]
    items = [(prepared.a[i], prepared.b[i], float(prepared.labels[i]), 0, i) for i in rows]
    batch = PairCollator(dm.corpus.units, dm.planner)(items)
    assert all(len(prepared.a[i]) == 0 for i in rows)  # no sentences at all
    assert module.loss_fn.score(batch).tolist() == [0.0] * len(rows)

    dropped = datamodule(["data=pairs", f"data.source.path={path}", "data.drop_empty=true"], tmp_path / "b")
    assert dropped.dataset_card()["dropped_empty"] == 2
    assert sum(len(dropped.records[s]) for s in SPLITS) == 30


@pytest.mark.parametrize(
    ("rows", "problem"),
    [([("A.", "B.", "2")], r"line 3: label '2' is outside \[0, 1\]"),
     ([("A.", "B.", "yes")], r"line 3: label 'yes' is not a number"),
     ([("A.", "B.", "nan")], r"line 3: the label is missing \(NaN\)"),
     ([("A.", "B.", "")], r"line 3: the label is missing")],
)
def test_bad_label_fails_before_training_naming_file_and_line(tmp_path: Path, rows, problem: str) -> None:
    path = write_csv(tmp_path / "bad.csv", [("Fine.", "Also fine.", "1"), *rows])
    cfg = compose_train(["data=pairs", f"data.source.path={path}", "export=none"], tmp_path / "run")
    with pytest.raises(ParasimError, match=rf"bad\.csv, {problem}"):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoints").exists()  # fit never started
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_missing_or_unknown_column_is_an_error_at_setup(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cols.csv", numbered_rows(0, 10), header=("first", "second", "label"))
    with pytest.raises(ParasimError, match=r"cols\.csv: no column 'paragraphs1'.*'first', 'second', 'label'"):
        datamodule(["data=pairs", f"data.source.path={path}"], tmp_path / "a")
    with pytest.raises(ParasimError, match=r"no column 'sentence1'"):
        datamodule(["data=pairs", f"data.source.path={path}", "data.source.columns.text_a=sentence1"], tmp_path / "b")


def test_bad_data_options_are_clear_errors(tmp_path: Path) -> None:
    """Every source option is declared under `data.source`: Hydra refuses a misspelt one before anything runs."""
    with pytest.raises(ConfigCompositionException, match=r"data\.source\.bogus"):
        datamodule(["data=webis", "data.source.root=x", "data.source.bogus=1"], tmp_path)
    with pytest.raises(ParasimError, match="needs data.source.path=FILE"):
        datamodule(["data=pairs"], tmp_path)
    with pytest.raises(ParasimError, match=r"data=webis needs a Webis-CPC-11 folder: data.source.root=DIR"):
        datamodule(["data=webis"], tmp_path)
    with pytest.raises(ParasimError, match=r"data\.source\.parts\.alecs\.root=DIR"):
        datamodule(["data=seed_mixture", f"data.source.parts.webis.root={write_webis(tmp_path / 'w', range(1, 20))}"],
                    tmp_path)
    with pytest.raises(ConfigCompositionException, match=r"data\.source\.parts\.alecs\.nope"):
        datamodule(["data=seed_mixture", "data.source.parts.alecs.nope=1"], tmp_path)


def test_sentence_over_the_token_cap_is_truncated_and_counted(tmp_path: Path) -> None:
    long = " ".join(["word"] * 500) + "."
    path = write_csv(tmp_path / "long.csv", [*numbered_rows(0, 20), (long, "Short one.", 1)])
    dm = datamodule(["data=pairs", f"data.source.path={path}"], tmp_path)
    card = dm.dataset_card()
    assert card["truncated_units"] == 1
    assert max(len(ids) for ids in dm.corpus.units) == 384


def test_duplicates_are_reported_and_dedupe_removes_them(tmp_path: Path) -> None:
    rows = numbered_rows(0, 20)
    train_rows = [*rows, rows[0], (rows[1][1], rows[1][0], rows[1][2]), ("Also in test.", "Yes, in test.", 1)]
    test_rows = [("Also in test.", "Yes, in test.", 1), *numbered_rows(200, 205)]
    paths = {"train": write_csv(tmp_path / "train.csv", train_rows),
             "val": write_csv(tmp_path / "val.csv", numbered_rows(100, 105)),
             "test": write_csv(tmp_path / "test.csv", test_rows)}
    overrides = ["data=pairs", *(f"data.source.{s}_path={p}" for s, p in paths.items())]
    card = datamodule(overrides, tmp_path / "a").dataset_card()
    assert (card["duplicate_pairs"], card["cross_split_duplicates"], card["removed_duplicates"]) == (2, 1, 0)
    deduped = datamodule([*overrides, "data.dedupe=true"], tmp_path / "b")
    assert [len(deduped.records[s]) for s in SPLITS] == [20, 5, 6]
    assert deduped.dataset_card()["removed_duplicates"] == 3


# ---------------------------------------------------------------- dataset card and real training runs


def test_dataset_card_contents(tmp_path: Path) -> None:
    rows = [(f"One {i}. Two {i}. Three {i}.", f"Uno {i}.", round(i / 40, 3)) for i in range(41)]
    dm = datamodule(["data=pairs", f"data.source.path={write_csv(tmp_path / 'g.csv', rows)}"], tmp_path)
    card = dm.dataset_card()
    assert card["pairs"] == {s: len(dm.records[s]) for s in SPLITS}
    assert card["subsets"] == [{"subset": "pairs", **card["pairs"]}]
    text_a, text_b = card["columns (train)"]
    assert (text_a["sentences min"], text_a["sentences max"], text_b["sentences max"]) == (3, 3, 1)
    assert text_a["tokens min"] > text_b["tokens max"]
    assert [row["label"] for row in card["labels"]] == ["[0.0, 0.2)", "[0.2, 0.4)", "[0.4, 0.6)", "[0.6, 0.8)",
                                                        "[0.8, 1.0]"]
    assert sum(row["train"] for row in card["labels"]) == card["pairs"]["train"]
    assert len(card["samples (train)"]) == 3
    json.dumps(card)


def test_short_training_runs_on_a_csv_and_a_webis_folder(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "mine.csv", numbered_rows(0, 40))
    webis = write_webis(tmp_path / "webis", range(1, 41))
    for name, overrides in {"csv": ["data=pairs", f"data.source.path={csv_path}"],
                            "webis": ["data=webis", f"data.source.root={webis}"]}.items():
        out = tmp_path / name
        cfg = compose_train([*overrides, "trainer.fast_dev_run=true", "export=none"], out)
        metrics = train(cfg)
        assert np.isfinite(metrics["val/mse"]) and np.isfinite(metrics["test/mse"])
        card = json.loads((out / "dataset_card.json").read_text())
        assert card["pairs"]["train"] > 0
        if name == "webis":  # positives and random negatives are subsets: each is reported on its own too
            per_subset = {k.split("/")[1] for k in metrics if k.startswith("val/") and k.count("/") == 2}
            assert per_subset == {"webis_pos", "webis_random"}, sorted(metrics)
