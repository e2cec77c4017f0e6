"""The vector index candidates come from: FAISS inner-product search over unit-length embeddings (= cosine).

`kind: auto` is an exact `IndexFlatIP` up to `exact_max` vectors (its search costs n_queries × n × dim
multiply-adds: 10k × 10k × 768 ≈ 8e10, about a second on 2 cores) and an HNSW graph above it (no training,
recall ≈ 0.99 at efSearch 128; memory ≈ n × (4·dim + 8·M) bytes). `ivf` (an inverted file over `nlist` k-means
cells, `nprobe` searched) trains in minutes and suits collections too large for HNSW's memory; `ivfpq` also
compresses each vector to `pq_bytes` bytes, the choice for ≈ 10 million paragraphs on one machine (see README).
"""

from __future__ import annotations

import math

import faiss
import numpy as np
from tqdm.auto import tqdm

from parasim.errors import ParasimError

KINDS = ("auto", "flat", "hnsw", "ivf", "ivfpq")
SEARCH_BLOCK = 4096  # query rows per search call (bounds the distance buffer; a progress step)


def build_index(vectors: np.ndarray, kind: str = "auto", exact_max: int = 200_000, hnsw_m: int = 32,
                ef_search: int = 128, nlist: int | None = None, nprobe: int = 16, pq_bytes: int = 64,
                seed: int = 0) -> faiss.Index:
    """An inner-product index over `vectors` (float32, unit rows)."""
    if kind not in KINDS:
        raise ParasimError(f"index.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if kind == "auto":
        kind = "flat" if n <= exact_max else "hnsw"
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = ef_search
    else:
        cells = nlist or max(1, min(n // 39, int(4 * math.sqrt(n))))  # FAISS wants ≥ 39 training points per cell
        spec = f"IVF{cells},Flat" if kind == "ivf" else f"IVF{cells},PQ{pq_bytes}"
        index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample = vectors[rng.choice(n, size=min(n, 256 * cells), replace=False)] if n > 256 * cells else vectors
        index.train(sample)
        faiss.extract_index_ivf(index).nprobe = min(nprobe, cells)
    if n:
        index.add(vectors)
    return index


def search(index: faiss.Index, queries: np.ndarray, k: int, progress: str | None = None) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """The `k` nearest rows (by inner product) of each query: (cosines, ids), ids -1 where fewer exist."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    k = max(1, min(k, index.ntotal))
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    if index.ntotal == 0:
        return scores, ids
    with tqdm(total=len(queries), desc=progress, unit="query", disable=progress is None) as bar:
        for start in range(0, len(queries), SEARCH_BLOCK):
            block = queries[start:start + SEARCH_BLOCK]
            scores[start:start + len(block)], ids[start:start + len(block)] = index.search(block, k)
            bar.update(len(block))
    return scores, ids
