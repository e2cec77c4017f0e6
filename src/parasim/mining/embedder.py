"""Embedding through Lightning's predict loop, so `trainer=gpu|ddp|ddp_cpu` and the SLURM launcher spread it out.

The texts to embed are sorted by length and grouped so that a group fills about `batch_tokens` padded tokens
(estimated from characters, ≈ 3 per token for English, capped at the 384-token limit); one group is one predict
batch, tokenized in the data loader and laid out by the encoder's planner. Under DDP, Lightning's predict loop
gives each rank its share of the groups (an unrepeated distributed sampler: unlike torch's DistributedSampler it
pads with no repeats); every rank's `ShardWriter` writes the rank's embeddings as cache shards of its own (every
`flush_rows` rows and at the end). The cache joins the shards when it reloads and keeps a text held twice once
(a padding repeat of another sampler, a rank re-run after a crash), so the join never depends on the sampler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader, Dataset

from parasim.mining.cache import EmbeddingCache
from parasim.models.batching import EncoderInput, Planner
from parasim.models.encoder import SentenceEncoder

CHARS_PER_TOKEN = 3.0  # conservative for English (≈ 4 on average), so a group rarely exceeds its token budget
FLUSH_ROWS = 65536  # rows a rank buffers before writing a shard (≈ 200 MB at 768 dimensions)


def group_texts(texts: Sequence[str], batch_tokens: int, max_tokens: int) -> list[np.ndarray]:
    """Indices of `texts`, longest first, in groups of about `batch_tokens` padded tokens each."""
    lengths = np.asarray([len(t) for t in texts], dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    groups, start = [], 0
    while start < len(order):
        width = min(max_tokens, int(lengths[order[start]] / CHARS_PER_TOKEN) + 2)
        count = max(1, batch_tokens // max(width, 1))
        groups.append(order[start:start + count])
        start += count
    return groups


class TextGroups(Dataset):
    """One item per group: the group's cache keys and texts."""

    def __init__(self, texts: Sequence[str], keys: np.ndarray, groups: list[np.ndarray]) -> None:
        self.texts, self.keys, self.groups = list(texts), np.asarray(keys, dtype=np.uint64), groups

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> tuple[np.ndarray, list[str]]:
        rows = self.groups[index]
        return self.keys[rows], [self.texts[i] for i in rows.tolist()]


class Tokenize:
    """The data loader's collate: tokens of one group laid out for the encoder (on the CPU, in the loader)."""

    def __init__(self, encoder: SentenceEncoder, device_type: str) -> None:
        self.tokenizer, self.max_length = encoder.tokenizer, encoder.max_seq_length
        self.planner = Planner(encoder.planner.pad_id, encoder.planner.batch_tokens, encoder.planner.min_fill,
                               encoder.planner.packed, device_type)  # chunks laid out for the device that runs them

    def __call__(self, items: list[tuple[np.ndarray, list[str]]]) -> tuple[torch.Tensor, EncoderInput, torch.Tensor]:
        keys, texts = items[0]  # one group per batch
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        inputs, rows = self.planner(ids)
        return torch.from_numpy(keys.view(np.int64).copy()), inputs, rows


class EmbedModule(L.LightningModule):
    """Inference only: `predict_step` returns a group's keys and unit-length embeddings (input order, CPU)."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def predict_step(self, batch: tuple[torch.Tensor, EncoderInput, torch.Tensor],
                     batch_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        keys, inputs, rows = batch
        return keys.cpu(), self.encoder.embed_chunks(inputs)[rows.to(self.device)].float().cpu()


class ShardWriter(BasePredictionWriter):
    """Writes each rank's embeddings to the cache as shards of its own (`-r<rank>` in the name)."""

    def __init__(self, cache: EmbeddingCache | None = None, flush_rows: int = FLUSH_ROWS) -> None:
        super().__init__(write_interval="batch")
        self.cache, self.flush_rows = cache, flush_rows
        self._keys: list[np.ndarray] = []
        self._vectors: list[np.ndarray] = []

    def write_on_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, prediction: Any,
                           batch_indices: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        keys, vectors = prediction
        self._keys.append(keys.numpy().view(np.uint64))
        self._vectors.append(vectors.numpy())
        if sum(len(k) for k in self._keys) >= self.flush_rows:
            self.flush(trainer.global_rank)

    def on_predict_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.flush(trainer.global_rank)

    def flush(self, rank: int) -> None:
        if self._keys and self.cache is not None:
            self.cache.write_shard(np.concatenate(self._keys), np.concatenate(self._vectors), tag=f"-r{rank}")
        self._keys, self._vectors = [], []


def embed_missing(encoder: SentenceEncoder, texts: Sequence[str], keys: np.ndarray, cache: EmbeddingCache,
                  trainer: L.Trainer, writer: ShardWriter, batch_tokens: int, num_workers: int = 0) -> int:
    """Embed the `texts` whose keys the cache lacks with `trainer.predict` (built with `writer` among its callbacks);
    returns how many were embedded."""
    todo = np.flatnonzero(np.isin(keys, cache.missing(keys)))
    if not len(todo):
        return 0
    _, first = np.unique(keys[todo], return_index=True)  # each distinct text once
    todo = todo[np.sort(first)]
    subset = [texts[i] for i in todo.tolist()]
    groups = group_texts(subset, batch_tokens, encoder.max_seq_length)
    loader = DataLoader(TextGroups(subset, keys[todo], groups), batch_size=1, shuffle=False,
                        collate_fn=Tokenize(encoder, trainer.strategy.root_device.type), num_workers=num_workers)
    writer.cache = cache
    trainer.predict(EmbedModule(encoder.eval()), dataloaders=loader, return_predictions=False)
    trainer.strategy.barrier("parasim-embedding-shards")  # under torchrun/SLURM: every rank's shards are written
    cache.reload()
    return len(todo)
