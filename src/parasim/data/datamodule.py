"""LightningDataModule: records from a source → clean-up → cached pre-processing → token-budgeted pair batches."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch.utils.data import DataLoader, Dataset, Sampler
from transformers import PreTrainedTokenizerBase

from parasim.data.card import build_card
from parasim.data.cleaning import CleaningReport, clean, stratified_head
from parasim.data.collate import Item, PairCollator
from parasim.data.mixture import MixtureSampler
from parasim.data.prepare import PreparedCorpus, PreparedSplit, prepare_cached
from parasim.data.records import PairRecord
from parasim.data.resumable import EpochShuffleSampler, ResumableLoader
from parasim.data.splits import SPLITS, fold_splits
from parasim.errors import ParasimError
from parasim.models.batching import Planner

log = logging.getLogger(__name__)
MIXTURE_KEYS = {"probabilities", "stopping"}


class PairDataset(Dataset):
    def __init__(self, split: PreparedSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> Item:
        s = self.split
        return s.a[i], s.b[i], float(s.labels[i]), int(s.subsets[i]), i


class PairDataModule(L.LightningDataModule):
    """`source()` returns {split: [PairRecord]}; everything after that is corpus-independent.

    `drop_empty` drops pairs with an empty paragraph (kept by default: SE-F1 scores them 0); `dedupe`
    removes duplicate pairs (always counted in the dataset card); `limit`/`limits` cap pairs per split,
    keeping each subset's share. `mixture` ({probabilities: {subset: p}, stopping: first_exhausted |
    all_exhausted}) samples the training split by subset; val/test always hold every subset. `folds` (k) and
    `fold` (i) re-split the `fold_pool` splits (train + val) into k folds by a hash of each pair's first text
    (`parasim.data.splits.fold_splits`, seeded by `fold_seed`, not the training seed): fold i is val, the
    rest train, test stays fixed; `folds: null` keeps the source's splits.
    """

    def __init__(self, source: Callable[[], Mapping[str, list[PairRecord]]], tokenizer: PreTrainedTokenizerBase,
                 planner: Planner, unit: str = "sentences", batch_size: int = 4, eval_batch_size: int = 16,
                 limit: int | None = None, limits: Mapping[str, int | None] | None = None,
                 max_seq_length: int = 384, paragraph_max_tokens: int | None = None, cache_dir: str | None = None,
                 num_workers: int = 0, pin_memory: bool | None = None, seed: int = 0, drop_empty: bool = False,
                 dedupe: bool = False, mixture: Mapping[str, Any] | None = None, folds: int | None = None,
                 fold: int | None = None, fold_seed: int = 0, fold_pool: Sequence[str] = ("train", "val")) -> None:
        super().__init__()
        self.folds = folds
        self.fold = fold
        self.fold_seed = fold_seed
        self.fold_pool = list(_plain(fold_pool))
        self.mixture = _plain(mixture)
        self.source = source
        self.drop_empty = drop_empty
        self.dedupe = dedupe
        self.tokenizer = tokenizer
        self.unit = unit
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.planner = planner
        self.limits = {s: _min_opt(limit, (limits or {}).get(s)) for s in SPLITS}
        self.max_seq_length = max_seq_length
        self.paragraph_max_tokens = paragraph_max_tokens
        self.cache_dir = cache_dir
        self.num_workers = num_workers
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.seed = seed
        self.records: dict[str, list[PairRecord]] | None = None
        self.corpus: PreparedCorpus | None = None
        self.cleaning = CleaningReport()
        self.prepare_seconds = 0.0
        self.cache_hit = False
        self._card: dict[str, Any] | None = None
        self.train_sampler: Sampler[int] | None = None  # the mixture sampler; None = plain seeded shuffle

    def setup(self, stage: str | None = None) -> None:
        if self.corpus is not None:
            return
        started = time.perf_counter()
        # checked here, not in __init__: Hydra's instantiate would wrap the ParasimError and hide its message
        if self.mixture is not None and (set(self.mixture) - MIXTURE_KEYS or "probabilities" not in self.mixture):
            raise ParasimError(f"data.mixture takes {sorted(MIXTURE_KEYS)} (probabilities required), "
                               f"got {sorted(self.mixture)}")
        records = dict(self.source())
        missing = [s for s in SPLITS if s not in records]
        if missing:
            raise ParasimError(f"The data source gave no {', '.join(missing)} split.")
        if self.folds is not None:
            records = fold_splits(records, self.folds, self.fold, self.fold_seed, self.fold_pool)
            log.info("data: fold %d of %d (%s re-split into folds; test unchanged)", self.fold, self.folds,
                     " + ".join(self.fold_pool))
        cleaned, self.cleaning = clean(records, self.drop_empty, self.dedupe)
        self.records = {s: stratified_head(cleaned[s], self.limits[s]) for s in SPLITS}
        if not self.records["train"]:
            raise ParasimError("The training split is empty: nothing to train on.")
        self.corpus, self.cache_hit = prepare_cached(
            self.records, self.tokenizer, self.cache_dir, unit=self.unit, max_seq_length=self.max_seq_length,
            paragraph_max_tokens=self.paragraph_max_tokens,
        )
        self.prepare_seconds = time.perf_counter() - started
        sizes = ", ".join(f"{s} {len(self.records[s])}" for s in SPLITS)
        log.info("data: %s pairs, %d distinct %s, prepared in %.2fs (%s)", sizes, len(self.corpus.units),
                 self.unit, self.prepare_seconds, "cache hit" if self.cache_hit else "cache written")
        if self.mixture is not None:  # built here so a bad mixture fails before any evaluation or training
            self.train_sampler = MixtureSampler(
                self.corpus.splits["train"].subsets, self.corpus.subset_names, self.mixture["probabilities"],
                self.mixture.get("stopping", "first_exhausted"), seed=self.seed)
        if self.cleaning.duplicate_pairs or self.cleaning.cross_split_duplicates:
            log.warning("data: %d duplicate pairs within splits, %d train pairs also in val/test (%s)",
                        self.cleaning.duplicate_pairs, self.cleaning.cross_split_duplicates,
                        "removed: dedupe" if self.dedupe else "kept; data.dedupe=true removes them")

    def dataset_card(self) -> dict[str, Any]:
        """Statistics of the prepared data (see parasim.data.card); train.py saves it as dataset_card.json."""
        if self._card is None:
            if self.corpus is None:
                self.setup()
            self._card = build_card(self.records, self.corpus, self.cleaning, unit=self.unit,
                                    max_seq_length=self.max_seq_length,
                                    special_tokens=self.tokenizer.num_special_tokens_to_add())
        return self._card

    @property
    def subset_names(self) -> list[str]:
        return self.corpus.subset_names if self.corpus else []

    def _loader(self, split: str, sampler: Sampler[int] | None = None) -> DataLoader:
        if self.corpus is None:
            self.setup()
        dataset = PairDataset(self.corpus.splits[split])
        if split == "train" and sampler is None:
            sampler = EpochShuffleSampler(dataset, self.seed)
        # epoch-seeded order and a position saved in checkpoints: a resumed run gets the batches it would have had
        return ResumableLoader(
            dataset,
            batch_size=self.batch_size if split == "train" else self.eval_batch_size,
            sampler=sampler, generator=torch.Generator().manual_seed(self.seed), num_workers=self.num_workers,
            pin_memory=self.pin_memory, collate_fn=PairCollator(self.corpus.units, self.planner),
        )

    def train_dataloader(self) -> DataLoader:
        if self.corpus is None:
            self.setup()
        return self._loader("train", self.train_sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")


def _min_opt(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _plain(value: Any) -> Any:
    """Hydra passes nested options as DictConfig/ListConfig; sources get plain dicts and lists."""
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig | ListConfig) else value
