"""Semantic duplicates: sentence embeddings + nearest-neighbour search at a cosine threshold.

The model is any sentence-transformers id or path (default: the offline MiniLM
package).  Each record's ``k`` nearest neighbours are found with
:func:`instructkit.vector.neighbours` (exact BLAS for small sets, usearch HNSW
for large); pairs at or above the threshold link records into clusters.  The
time spent inside the model's ``encode`` is measured separately, so the share
of overhead outside the model is visible in the summary.

Texts the model cannot compare (mostly non-ASCII ones with the English-only
offline default, :func:`instructkit.models.embeddings.unsupported`) are left out
of the semantic pass and counted as ``skipped_non_ascii``; a multilingual model
named with ``--embedding-model`` compares everything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from instructkit.models import embeddings
from instructkit.vector import neighbours


@dataclass
class SemanticResult:
    pairs: np.ndarray  # int64 [m, 2]
    similarity: np.ndarray  # cosine of each pair
    vectors: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)

    def cosine(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", self.vectors[a], self.vectors[b])


def semantic_pairs(
    texts: list[str],
    threshold: float = 0.95,
    model: str = embeddings.DEFAULT_EMBEDDING_MODEL,
    k: int = 10,
) -> SemanticResult:
    """Pairs (i < j) whose embeddings have cosine >= ``threshold``; empty texts never match."""
    t0 = time.perf_counter()
    embeddings.load(model)  # load outside the timed encode: a one-off cost, reported apart
    t1 = time.perf_counter()
    usable = np.array([bool(t.strip()) for t in texts], dtype=bool)
    foreign = embeddings.unsupported(texts, model) & usable
    skipped = int(foreign.sum())
    usable &= ~foreign
    usable = np.flatnonzero(usable)
    vectors = np.zeros((len(texts), 0), np.float32)
    pairs = np.zeros((0, 2), np.int64)
    sims = np.zeros(0, np.float32)
    if len(usable):
        encoded = embeddings.encode([texts[i] for i in usable], model)
        t2 = time.perf_counter()
        vectors = np.zeros((len(texts), encoded.shape[1]), np.float32)
        vectors[usable] = encoded
        idx, sim = neighbours(encoded, encoded, k=k + 1, threshold=threshold)
        q = np.repeat(np.arange(len(usable)), idx.shape[1])
        c, s = idx.reshape(-1), sim.reshape(-1)
        hit = (c >= 0) & (c != q)
        a, b = usable[q[hit]], usable[c[hit]]
        code, first = np.unique(np.minimum(a, b) * len(texts) + np.maximum(a, b), return_index=True)
        pairs = np.stack((code // len(texts), code % len(texts)), axis=1)
        sims = s[hit][first]
    else:
        t2 = time.perf_counter()
    t3 = time.perf_counter()
    stats = {
        "model": model,
        "load_seconds": round(t1 - t0, 3),
        "encode_seconds": round(t2 - t1, 3),
        "search_seconds": round(t3 - t2, 3),
        "records_per_second": round(len(usable) / max(t3 - t1, 1e-9), 1),
        "encode_share": round((t2 - t1) / max(t3 - t1, 1e-9), 4),
        "pairs": len(pairs),
        "skipped_non_ascii": skipped,
    }
    return SemanticResult(pairs, sims, vectors, stats)
