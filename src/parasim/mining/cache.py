"""An on-disk cache of text embeddings, memory-mapped, keyed by model + text fingerprint.

Layout: `<cache dir>/<model fingerprint>/<shard>.vecs.npy` (float32, rows × dim) and `<shard>.keys.npy` (uint64
text fingerprints, one per row). A run embeds only the texts whose keys no shard holds and adds a shard, so a
second run over a grown collection embeds what is new. Each process (each DDP rank) writes shards of its own,
vectors first and keys last, each renamed into place, so a shard without its keys file is unfinished and ignored.
Loading joins the shards: a key held twice (a DistributedSampler's padding repeats, two runs racing) is kept once.

The model fingerprint hashes the files that shape an embedding (weights, tokenizer, config, max_seq_length),
so a retrained export never reads another model's vectors. A text fingerprint is 8 bytes of BLAKE2b: at 10
million texts the chance that two texts share one is ≈ n²/2⁶⁵ ≈ 3e-6.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from parasim.errors import ParasimError

MODEL_FILES = ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
               "special_tokens_map.json", "sentence_bert_config.json", "modules.json", "1_Pooling/config.json")


def model_fingerprint(model_dir: str | Path) -> str:
    """BLAKE2b of the export's files that shape its embeddings (≈ 1 s for the 438 MB all-mpnet-base-v2)."""
    root = Path(model_dir)
    digest = hashlib.blake2b(digest_size=12)
    for name in MODEL_FILES:
        path = root / name
        if path.is_file():
            digest.update(name.encode() + b"\0")
            with path.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "blake2b").digest())
    return digest.hexdigest()


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """The uint64 fingerprint of each text."""
    return np.fromiter((int.from_bytes(hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                                       "little") for t in texts), dtype=np.uint64, count=len(texts))


class EmbeddingCache:
    """The shards of one model's embeddings; `get(keys)` returns their vectors, `missing(keys)` what to embed."""

    def __init__(self, root: str | Path, model_key: str, dim: int) -> None:
        self.dir = Path(root) / model_key
        self.dim = dim
        self.reload()

    def shards(self) -> list[str]:
        return sorted(p.name.removesuffix(".keys.npy") for p in self.dir.glob("*.keys.npy")
                      if (self.dir / p.name.replace(".keys.npy", ".vecs.npy")).is_file())

    def reload(self) -> None:
        """Join every finished shard: one sorted key table mapping to (shard, row)."""
        self._vectors: list[np.ndarray] = []
        keys, shard_of, rows = [], [], []
        for number, name in enumerate(self.shards()):
            vectors = np.load(self.dir / f"{name}.vecs.npy", mmap_mode="r")
            shard_keys = np.load(self.dir / f"{name}.keys.npy")
            if vectors.shape != (len(shard_keys), self.dim):
                raise ParasimError(f"{self.dir / name}: embedding shard of shape {vectors.shape} for "
                                   f"{len(shard_keys)} keys of dimension {self.dim}; delete it and run again")
            self._vectors.append(vectors)
            keys.append(shard_keys)
            shard_of.append(np.full(len(shard_keys), number, dtype=np.int32))
            rows.append(np.arange(len(shard_keys), dtype=np.int64))
        all_keys = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
        unique, first = np.unique(all_keys, return_index=True)  # a key held twice is kept once
        self._keys = unique
        self._shard = np.concatenate(shard_of)[first] if keys else np.zeros(0, np.int32)
        self._row = np.concatenate(rows)[first] if keys else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self._keys)

    def _find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys = np.asarray(keys, dtype=np.uint64)
        pos = np.searchsorted(self._keys, keys)
        pos = np.minimum(pos, max(len(self._keys) - 1, 0))
        found = (self._keys[pos] == keys) if len(self._keys) else np.zeros(len(keys), dtype=bool)
        return found, pos

    def missing(self, keys: np.ndarray) -> np.ndarray:
        """The distinct keys among `keys` that no shard holds."""
        keys = np.unique(np.asarray(keys, dtype=np.uint64))
        return keys[~self._find(keys)[0]]

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The vectors of `keys` (rows in the order given), read from the memory-mapped shards."""
        found, pos = self._find(keys)
        if not found.all():
            raise ParasimError(f"{int((~found).sum())} text(s) are missing from the embedding cache {self.dir}")
        out = np.empty((len(pos), self.dim), dtype=np.float32)
        shard, row = self._shard[pos], self._row[pos]
        for number in np.unique(shard):
            take = np.flatnonzero(shard == number)
            order = np.argsort(row[take])  # ascending reads from the memory map
            out[take[order]] = self._vectors[number][row[take][order]]
        return out

    def write_shard(self, keys: np.ndarray, vectors: np.ndarray, tag: str = "") -> Path | None:
        """Add a shard (vectors, then keys, each renamed into place); None when there is nothing to write."""
        if not len(keys):
            return None
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), self.dim):
            raise ValueError(f"{len(keys)} keys for vectors of shape {vectors.shape}")
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{time.perf_counter_ns() % 10**9:09d}-{os.getpid()}{tag}"
        for suffix, data in ((".vecs.npy", vectors), (".keys.npy", np.asarray(keys, dtype=np.uint64))):
            tmp = self.dir / f".{name}{suffix}.tmp"
            with tmp.open("wb") as handle:
                np.save(handle, data)
            os.replace(tmp, self.dir / f"{name}{suffix}")
        return self.dir / name
