"""Tier 2: embedding similarity of user turns against benchmark items.

Benchmarks are small (at most a few tens of thousands of items), so the search is
exact (``vector.neighbours(exact=True)``: a blocked float32 matrix product and
``argpartition``): an approximate index would cost recall to save milliseconds,
and the encoder's own time dominates the tier (docs/decontamination.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instructkit.models import embeddings
from instructkit.vector import neighbours


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

    def search(
        self, queries: np.ndarray, floor: float, k: int = 5
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query row, item, cosine) for each query's top-k items at or above ``floor``."""
        idx, sims = neighbours(queries, self.vectors, k=k, threshold=floor, exact=True)
        q, j = np.nonzero(idx >= 0)  # row-major: each query's neighbours come best first
        items, scores = self.items[idx[q, j]].astype(np.int64), sims[q, j]
        # An item with several texts (MT-Bench turns) may appear twice: keep its first, best, score.
        _, first = np.unique(np.rec.fromarrays([q, items], names="q,i"), return_index=True)
        first.sort()
        return q[first].astype(np.int64), items[first], scores[first]
