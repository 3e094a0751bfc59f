"""Tier 2: embedding similarity of user turns against benchmark items.

Benchmarks are small (at most a few tens of thousands of items), so the search is
exact: one float32 matrix product per chunk of queries against the unit-norm
benchmark matrix, then ``argpartition`` for the top k.  An approximate index
would add a dependency and a recall loss to save milliseconds; the encoder's
own time dominates the tier (see docs/decontamination.md for the measurement).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instructkit.models import embeddings

#: Query rows per matrix product: bounds the similarity block at CHUNK x items floats.
CHUNK = 1024


@dataclass
class EmbeddingIndex:
    """Unit-norm embeddings of benchmark texts; ``items[r]`` is the item row r belongs to."""

    vectors: np.ndarray
    items: np.ndarray

    @classmethod
    def build(cls, embed: list[list[str]], model: str) -> EmbeddingIndex:
        texts = [t for ts in embed for t in ts]
        items = np.repeat(np.arange(len(embed), dtype=np.int32), [len(ts) for ts in embed])
        return cls(embeddings.encode(texts, model), items)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"vectors": self.vectors, "items": self.items}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> EmbeddingIndex:
        return cls(a["vectors"], a["items"])

    def search(self, queries: np.ndarray, floor: float, k: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query row, item, cosine) for each query's top-k items at or above ``floor``."""
        k = min(k, len(self.vectors))
        out_q, out_i, out_s = [], [], []
        for lo in range(0, len(queries), CHUNK):
            sims = queries[lo : lo + CHUNK] @ self.vectors.T
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else np.argsort(-sims, axis=1)
            score = np.take_along_axis(sims, top, axis=1)
            q, j = np.nonzero(score >= floor)
            out_q.append(q + lo)
            out_i.append(self.items[top[q, j]])
            out_s.append(score[q, j])
        if not out_q:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        q, i, s = np.concatenate(out_q), np.concatenate(out_i).astype(np.int64), np.concatenate(out_s)
        # An item with several texts (MT-Bench turns) may appear twice: keep its best score.
        order = np.lexsort((-s, i, q))
        q, i, s = q[order], i[order], s[order]
        first = np.ones(len(q), bool)
        first[1:] = (q[1:] != q[:-1]) | (i[1:] != i[:-1])
        return q[first], i[first], s[first]
