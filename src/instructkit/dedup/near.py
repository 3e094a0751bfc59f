"""Near-duplicates end to end: shingle -> MinHash -> LSH bands -> candidates -> verified pairs.

Candidates from the bands are only a shortlist: each is verified against the
threshold with the exact Jaccard of the two shingle sets (default) or with the
signature estimate, so the kept pairs have no band false positives and the
reported similarity is the real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from instructkit.dedup import minhash
from instructkit.dedup.shingles import Shingles, shingle

Verify = Literal["exact", "signature"]


@dataclass
class NearResult:
    pairs: np.ndarray  # int64 [m, 2], verified
    similarity: np.ndarray  # Jaccard of each pair
    shingles: Shingles
    signatures: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Similarity of arbitrary record pairs, measured as the verification did."""
        pairs = np.stack((a, b), axis=1)
        if self.stats["verify"] == "exact":
            return minhash.exact_jaccard(self.shingles, pairs)
        return minhash.estimated_jaccard(self.signatures, pairs)


def near_pairs(
    normalized: list[str],
    threshold: float = 0.8,
    num_perm: int = 128,
    ngram: int = 3,
    seed: int = 1,
    verify: Verify = "exact",
) -> NearResult:
    """Record pairs with Jaccard >= ``threshold`` over word ``ngram`` shingles of normalised texts."""
    sh = shingle(normalized, ngram)
    sig = minhash.signatures(sh, minhash.Permutations.make(num_perm, seed))
    bands, rows = minhash.optimal_bands(threshold, num_perm)
    cand = minhash.candidate_pairs(sig, sh.counts() > 0, bands, rows)
    sim = (
        minhash.exact_jaccard(sh, cand)
        if verify == "exact"
        else minhash.estimated_jaccard(sig, cand)
    )
    ok = sim >= threshold
    stats = {
        "bands": bands,
        "rows": rows,
        "candidates": len(cand),
        "verified": int(ok.sum()),
        "verify": verify,
    }
    return NearResult(cand[ok], sim[ok], sh, sig, stats)
