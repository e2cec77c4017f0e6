"""k-fold cross-validation splits: disjoint folds whose union is train + val, stable when the corpus grows, a fixed
test split, and the options through Hydra on a pair file and on the embedded MTMP-PAN corpus."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import DictConfig

from conftest import compose_train, tiny
from parasim.corpora import corpus_path
from parasim.data.datamodule import PairDataModule
from parasim.data.mtmp_pan import build_splits
from parasim.data.records import PairRecord
from parasim.data.splits import fold_of, fold_splits, split_records, text_a_key
from parasim.errors import ParasimError
from parasim.models.encoder import SentenceEncoder
from test_data_layer import numbered_rows, write_csv


def datamodule(cfg: DictConfig, encoder: SentenceEncoder, **options: int | None) -> PairDataModule:
    """The data config's datamodule, set up, with `options` (folds, fold) replacing the composed values."""
    dm = instantiate(cfg.data, tokenizer=encoder.tokenizer, planner=encoder.planner, unit="sentences", **options)
    dm.setup()
    return dm


def pool_records(n: int, start: int = 0) -> list[PairRecord]:
    """Three partners per first text, as Webis or ALECS give an original several paraphrases."""
    return [PairRecord(f"original {i // 3}", f"partner {i}", float(i % 2)) for i in range(start, start + n)]


def test_folds_are_disjoint_cover_train_and_val_and_leave_test_alone() -> None:
    records = split_records(pool_records(3000), seed=0, key=text_a_key)  # split as Webis: same key, same seed
    pool = records["train"] + records["val"]
    vals = [fold_splits(records, 5, i)["val"] for i in range(5)]
    for i in range(5):
        split = fold_splits(records, 5, i)
        assert split["test"] == records["test"]
        assert sorted(split["train"] + split["val"], key=id) == sorted(pool, key=id)
        assert not {id(r) for r in split["train"]} & {id(r) for r in split["val"]}
        assert 0.8 * len(pool) / 5 < len(split["val"]) < 1.2 * len(pool) / 5  # equal in expectation
        assert len({r.text_a for r in split["val"]} & {r.text_a for r in split["train"]}) == 0  # one text, one fold
    assert sum(len(v) for v in vals) == len(pool)
    assert len({id(r) for v in vals for r in v}) == len(pool)


def test_a_pair_keeps_its_fold_when_the_corpus_grows() -> None:
    small = pool_records(600)
    grown = pool_records(900, start=600)[:450] + small + pool_records(900, start=600)[450:]
    before = {r: fold_of(r.text_a, 0, 5) for r in small}
    after = {}
    for i in range(5):
        after |= dict.fromkeys(fold_splits({"train": grown, "test": []}, 5, i, pool=["train"])["val"], i)
    assert len(after) == 1500 and {r: after[r] for r in small} == before
    assert set(before.values()) == set(range(5))
    assert fold_of("original 3", 1, 5) != fold_of("original 3", 0, 5) or fold_of("original 4", 1, 5) != fold_of(
        "original 4", 0, 5)  # the fold seed changes the assignment


@pytest.mark.parametrize(("folds", "fold", "pool", "message"), [
    (5, None, ("train", "val"), "needs data.fold in 0..4"),
    (5, 5, ("train", "val"), "needs data.fold in 0..4"),
    (1, 0, ("train", "val"), "must be >= 2"),
    (3, 0, ("train", "test"), "other than test"),
    (3, 0, ("train", "dev"), "other than test"),
])
def test_bad_fold_options_are_clear_errors(folds, fold, pool, message: str) -> None:
    with pytest.raises(ParasimError, match=message):
        fold_splits({"train": pool_records(10), "val": [], "test": []}, folds, fold, pool=pool)


def test_mtmp_pan_folds_split_its_train_split_and_keep_test(tmp_path: Path) -> None:
    splits = build_splits(corpus_path("mtmp_pan"), seed=0, min_k=2, max_k=4)
    folds = [fold_splits(splits, 5, i, pool=["train"]) for i in range(5)]
    assert Counter(r for f in folds for r in f["val"]) == Counter(splits["train"])
    assert all(f["test"] == splits["test"] for f in folds)
    cfg = compose_train(["data.limits.train=24", "data.limits.val=24", "data.limits.test=24", "data.folds=5",
                         "data.fold=3"], tmp_path)
    plain, folded = (datamodule(cfg, tiny(), folds=folds) for folds in (None, 5))
    assert set(folded.records["val"]) <= set(folds[3]["val"]) and set(folded.records["train"]) <= set(folds[3]["train"])
    assert folded.records["test"] == plain.records["test"]
    assert not set(folded.records["val"]) & set(plain.records["val"])  # the corpus's own val split is unused


def test_pair_file_folds_through_hydra(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "pairs.csv", numbered_rows(0, 120))
    cfg = compose_train(["data=pairs", f"data.source.path={path}", "data.folds=3", "data.fold=0"], tmp_path)
    encoder = tiny()
    plain = datamodule(cfg, encoder, folds=None)
    pool = Counter(plain.records["train"] + plain.records["val"])
    seen = []
    for i in range(3):
        dm = datamodule(cfg, encoder, fold=i)
        assert dm.records["test"] == plain.records["test"]
        assert Counter(dm.records["train"] + dm.records["val"]) == pool
        seen += dm.records["val"]
    assert Counter(seen) == pool
    with pytest.raises(ParasimError, match="data.fold=0,1,2"):
        datamodule(cfg, encoder, fold=None)
