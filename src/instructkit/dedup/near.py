"""Near-duplicates end to end: shingle -> candidates -> pairs verified by exact Jaccard.

Candidates come from the exact prefix filter (:mod:`.prefix`, the default: no
pair at or above the threshold is missed, and the cost is a few sorts of the
shingle array) or from MinHash LSH bands (:mod:`.minhash`, ``index="lsh"``:
``shingles x num_perm`` hash evaluations, a pair at the threshold found with
probability ~0.95).  Either way candidates are only a shortlist: each is
verified with the exact Jaccard of the two shingle sets (or, for LSH, the
signature estimate with ``verify="signature"``), so the kept pairs have no
false positives and the reported similarity is the real one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from instructkit.dedup import minhash, prefix
from instructkit.dedup.shingles import shingle

Verify = Literal["exact", "signature"]
Index = Literal["prefix", "lsh"]
INDEXES: tuple[str, ...] = ("prefix", "lsh")


@dataclass
class NearResult:
    pairs: np.ndarray  # int64 [m, 2], verified
    similarity: np.ndarray  # Jaccard of each pair
    measure: Callable[[np.ndarray], np.ndarray]  # pairs -> similarity, as the verification measured
    stats: dict[str, Any] = field(default_factory=dict)

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Similarity of arbitrary record pairs, measured as the verification did."""
        return self.measure(np.stack((a, b), axis=1).astype(np.int64))


def near_pairs(
    normalized: list[str],
    threshold: float = 0.8,
    num_perm: int = 128,
    ngram: int = 3,
    seed: int = 1,
    verify: Verify = "exact",
    index: Index = "prefix",
) -> NearResult:
    """Record pairs with Jaccard >= ``threshold`` over word ``ngram`` shingles of normalised texts.

    ``stats`` holds the seconds of each stage (shingle, index, candidates,
    verify) and the candidate and verified pair counts, for the step summary.
    """
    if index not in INDEXES:
        raise ValueError(f"index must be one of {INDEXES}")
    t0 = time.perf_counter()
    sh = shingle(normalized, ngram)
    t1 = time.perf_counter()
    stats: dict[str, Any] = {"index": index}
    if index == "prefix":
        sets = prefix.ranked_sets(sh)
        t2 = time.perf_counter()
        cand, more = prefix.candidate_pairs(sets, threshold)
        t3 = time.perf_counter()
        sim = prefix.jaccard(sets, cand)
        ok = sim >= threshold
        t4 = time.perf_counter()
        stats |= more | {"candidates": len(cand), "verified": int(ok.sum()), "verify": "exact"}
        stats["stage_seconds"] = _stages(t0, t1, t2, t3, t4)
        return NearResult(cand[ok], sim[ok], lambda p: prefix.jaccard(sets, p), stats)
    sig = minhash.signatures(sh, minhash.Permutations.make(num_perm, seed))
    t2 = time.perf_counter()
    bands, rows = minhash.optimal_bands(threshold, num_perm)
    cand = minhash.candidate_pairs(sig, sh.counts() > 0, bands, rows)
    t3 = time.perf_counter()

    def measure(p: np.ndarray) -> np.ndarray:
        if verify == "exact":
            return minhash.exact_jaccard(sh, p)
        return minhash.estimated_jaccard(sig, p)

    sim = measure(cand)
    ok = sim >= threshold
    t4 = time.perf_counter()
    stats |= {"bands": bands, "rows": rows, "candidates": len(cand), "verified": int(ok.sum())}
    stats |= {"verify": verify, "stage_seconds": _stages(t0, t1, t2, t3, t4)}
    return NearResult(cand[ok], sim[ok], measure, stats)


def _stages(t0: float, t1: float, t2: float, t3: float, t4: float) -> dict[str, float]:
    return {
        "shingle": round(t1 - t0, 3),
        "index": round(t2 - t1, 3),
        "candidates": round(t3 - t2, 3),
        "verify": round(t4 - t3, 3),
    }
