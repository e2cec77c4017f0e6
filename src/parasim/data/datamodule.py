"""LightningDataModule: records from a source → cached pre-processing → token-budgeted pair batches."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset
from transformers import PreTrainedTokenizerBase

from parasim.data.collate import PairCollator
from parasim.data.prepare import PreparedCorpus, PreparedSplit, prepare_cached
from parasim.data.records import PairRecord
from parasim.errors import ParasimError

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


class PairDataset(Dataset):
    def __init__(self, split: PreparedSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> tuple[Any, Any, float, int]:
        s = self.split
        return s.a[i], s.b[i], float(s.labels[i]), int(s.subsets[i])


class PairDataModule(L.LightningDataModule):
    """`source()` returns {split: [PairRecord]}; everything after that is corpus-independent."""

    def __init__(self, source: Callable[[], Mapping[str, list[PairRecord]]], tokenizer: PreTrainedTokenizerBase,
                 unit: str = "sentences", batch_size: int = 4, eval_batch_size: int = 16,
                 batch_tokens: int = 8192, limit: int | None = None, limits: Mapping[str, int | None] | None = None,
                 max_seq_length: int = 384, paragraph_max_tokens: int | None = None, cache_dir: str | None = None,
                 num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        self.source = source
        self.tokenizer = tokenizer
        self.unit = unit
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.batch_tokens = batch_tokens
        self.limits = {s: _min_opt(limit, (limits or {}).get(s)) for s in SPLITS}
        self.max_seq_length = max_seq_length
        self.paragraph_max_tokens = paragraph_max_tokens
        self.cache_dir = cache_dir
        self.num_workers = num_workers
        self.seed = seed
        self.records: dict[str, list[PairRecord]] | None = None
        self.corpus: PreparedCorpus | None = None
        self.prepare_seconds = 0.0
        self.cache_hit = False

    def setup(self, stage: str | None = None) -> None:
        if self.corpus is not None:
            return
        started = time.perf_counter()
        records = dict(self.source())
        missing = [s for s in SPLITS if s not in records]
        if missing:
            raise ParasimError(f"The data source gave no {', '.join(missing)} split.")
        self.records = {s: records[s][: self.limits[s]] for s in SPLITS}
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

    @property
    def subset_names(self) -> list[str]:
        return self.corpus.subset_names if self.corpus else []

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if self.corpus is None:
            self.setup()
        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(
            PairDataset(self.corpus.splits[split]),
            batch_size=self.batch_size if split == "train" else self.eval_batch_size,
            shuffle=shuffle, generator=generator, num_workers=self.num_workers,
            collate_fn=PairCollator(self.corpus.units, self.tokenizer.pad_token_id, self.batch_tokens),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


def _min_opt(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None
