"""MinHash signatures and LSH banding over shingle hashes, as NumPy array operations.

Each of ``num_perm`` permutations is ``(a*x + b) mod p`` with ``p = 2**31 - 1``
(a Mersenne prime, so the modulo is two folds of mask, shift and add instead of
a division), ``x`` a shingle hash reduced below p and ``a, b`` uniform in
``[1, p)`` and ``[0, p)``: ``a*x + b < 2**62`` never overflows uint64, and
``a*x`` wraps around p ~2**31 times, so each permutation really mixes (a
narrower ``a`` was tried and measured: with few wraps the minimum follows ``x``
and the estimates degrade).  The minimum per record fits in uint32:
1M records x 128 permutations = 512 MB.

Banding (b bands of r rows, chosen from the threshold like datasketch's
``_optimal_param`` but weighting misses more, because every candidate is
verified afterwards: fp_weight 0.05 gives 16 x 8 for 0.8 and 128 permutations,
which hits a pair at exactly J = 0.8 with probability 0.95, where datasketch's
9 x 13 hits it with 0.40) hashes each band's r columns of the signature matrix
(a view, no copy) to one uint64 and sorts; records with equal keys are candidates.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from instructkit.dedup.shingles import FOLD, Shingles, fmix64

MERSENNE = np.uint64((1 << 31) - 1)
_31 = np.uint64(31)
#: Cells (shingles x permutations) per block: 1 MB of uint64, so the passes stay in L2 (measured 3x faster than 16 MB).
CHUNK_CELLS = 1 << 17
#: In a band bucket, each member is paired with the bucket's first member and with its next
#: this-many members, not with all: a bucket of 20,000 templated records would otherwise give
#: 200 million candidate pairs.  (The old window of 64 without the star: 3.4M pairs, 93 s.)
MAX_BUCKET_PAIRS = 8


@dataclass(frozen=True)
class Permutations:
    a: np.ndarray  # uint64, in [1, p)
    b: np.ndarray  # uint64, in [0, p)

    @classmethod
    def make(cls, num_perm: int, seed: int = 1) -> Permutations:
        rng = np.random.default_rng(seed)
        a = rng.integers(1, MERSENNE, size=num_perm, dtype=np.uint64)
        b = rng.integers(0, MERSENNE, size=num_perm, dtype=np.uint64)
        return cls(a, b)


def _permute_min(x: np.ndarray, perms: Permutations, out: np.ndarray) -> None:
    """``out[r] = min(out[r], min over t of (a*x[r, t] + b) mod p)`` for x ``[R, L]`` (< p), no overflow.

    ``a*x + b <= (p-1)*p < 2**62``; one fold (hi + lo, since 2**31 == 1 mod p)
    brings it below 2**32 - 2, so the second fold and the minimum run on uint32,
    twice as many lanes per SIMD instruction.  Residues 0 and 1 may end as p and
    p + 1: still one distinct value per residue, so still a permutation for the
    minimum, without a third pass to subtract p.
    """
    y = x[:, :, None] * perms.a  # [R, L, P]
    y += perms.b
    t = y >> _31
    y &= MERSENNE
    y += t
    z = y.astype(np.uint32)
    z32 = z >> np.uint32(31)
    z &= np.uint32(MERSENNE)
    z += z32
    np.minimum(out, z.min(axis=1), out=out)


def _blocks(counts: np.ndarray, num_perm: int) -> list[np.ndarray]:
    """Records with shingles, sorted by count and grouped into blocks of ~CHUNK_CELLS cells, <= 25% padding."""
    order = np.flatnonzero(counts > 0)
    order = order[np.argsort(counts[order], kind="stable")]
    c = counts[order]
    blocks = []
    i = 0
    while i < len(order):
        cap = int(c[i] + max(c[i] // 4, 1))
        rows = max(CHUNK_CELLS // (cap * num_perm), 1)
        j = max(min(int(np.searchsorted(c, cap, side="left")), i + rows), i + 1)
        blocks.append(order[i:j])
        i = j
    return blocks


def _sign_block(recs: np.ndarray, x: np.ndarray, sh: Shingles, perms: Permutations) -> np.ndarray:
    counts = sh.counts()
    starts, lens = sh.offsets[recs], counts[recs]
    width = int(lens.max())
    mins = np.full((len(recs), len(perms.a)), MERSENNE, dtype=np.uint32)
    step = max(CHUNK_CELLS // (len(recs) * len(perms.a)), 1)  # a huge record goes in slices
    for t0 in range(0, width, step):
        t = np.arange(t0, min(t0 + step, width))
        pos = starts[:, None] + np.minimum(t[None, :], lens[:, None] - 1)
        _permute_min(x[pos], perms, mins)
    return mins


def signatures(sh: Shingles, perms: Permutations, workers: int | None = None) -> np.ndarray:
    """``uint32 [records, num_perm]``; a record without shingles gets all-ones (it is never banded).

    Records are sorted by shingle count and padded (by repeating their own last
    shingle, which leaves the minimum unchanged) into ``[R, L, P]`` blocks, so
    the per-record minimum is a plain axis reduction instead of a ragged
    ``reduceat`` (measured ~4x slower per cell).  NumPy releases the GIL inside
    each array operation, so blocks run on a thread per core.
    """
    num_perm = len(perms.a)
    out = np.full((len(sh.counts()), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    x = (sh.hashes >> np.uint64(33)) % MERSENNE  # 31 bits of the shingle hash, below p
    blocks = _blocks(sh.counts(), num_perm)
    workers = workers or min(len(os.sched_getaffinity(0)), 8)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for recs, mins in zip(blocks, pool.map(lambda r: _sign_block(r, x, sh, perms), blocks)):
            out[recs] = mins
    return out


@lru_cache(maxsize=32)
def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.05) -> tuple[int, int]:
    """(bands, rows) minimising the weighted area of false positives below and misses above the threshold."""
    b, r = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]).T
    s = np.linspace(0.0, 1.0, 1001)
    p = 1.0 - (1.0 - s[None, :] ** r[:, None]) ** b[:, None]  # P(candidate | Jaccard s), per (b, r)
    below, above = s <= threshold, s >= threshold
    fp = np.trapezoid(p[:, below], s[below], axis=1)
    fn = np.trapezoid(1.0 - p[:, above], s[above], axis=1)
    best = int(np.argmin(fp_weight * fp + (1.0 - fp_weight) * fn))
    return int(b[best]), int(r[best])


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``uint64 [records, bands]``: each band's rows folded to one hash (column views of ``sig``)."""
    keys = np.empty((sig.shape[0], bands), dtype=np.uint64)
    for k in range(bands):
        h = np.full(sig.shape[0], (k + 1) * 0x9E3779B97F4A7C15 % 2**64, dtype=np.uint64)
        for c in range(k * rows, (k + 1) * rows):
            h ^= sig[:, c]
            h *= FOLD
        keys[:, k] = fmix64(h)
    return keys


def candidate_pairs(sig: np.ndarray, usable: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``int64 [m, 2]`` unique pairs (i < j) of usable records that share at least one band bucket."""
    idx = np.flatnonzero(usable)
    n = sig.shape[0]
    if len(idx) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    keys = band_keys(sig[idx], bands, rows)
    codes: list[np.ndarray] = []
    for k in range(bands):
        order = np.argsort(keys[:, k], kind="stable")
        sk = keys[order, k]
        pos = np.arange(len(sk))
        head = np.maximum.accumulate(np.where(np.r_[True, sk[1:] != sk[:-1]], pos, 0))
        star = np.flatnonzero(head != pos)
        links = [
            (head[star], star)
        ]  # every member to its bucket's first: connectivity in any bucket
        for d in range(1, MAX_BUCKET_PAIRS + 1):  # and to its next few: recall in mixed buckets
            same = np.flatnonzero(sk[:-d] == sk[d:])
            if not len(same):
                break
            links.append((same, same + d))
        for a, b in links:
            i, j = idx[order[a]], idx[order[b]]
            codes.append(np.minimum(i, j).astype(np.int64) * n + np.maximum(i, j))
    if not codes:
        return np.zeros((0, 2), dtype=np.int64)
    code = np.unique(np.concatenate(codes))
    return np.stack((code // n, code % n), axis=1)


def estimated_jaccard(sig: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Share of equal signature slots per pair: an unbiased estimate of the Jaccard similarity."""
    out = np.empty(len(pairs), dtype=np.float64)
    step = max(CHUNK_CELLS // sig.shape[1], 1)
    for s in range(0, len(pairs), step):
        p = pairs[s : s + step]
        out[s : s + step] = (sig[p[:, 0]] == sig[p[:, 1]]).mean(axis=1)
    return out


def exact_jaccard(sh: Shingles, pairs: np.ndarray) -> np.ndarray:
    """Exact Jaccard of the shingle-hash sets of each pair, vectorised: sort (pair, hash) and count repeats."""
    out = np.zeros(len(pairs), dtype=np.float64)
    if not len(pairs):
        return out
    records, inverse = np.unique(pairs, return_inverse=True)
    sets = sh.unique_sets(records)
    local = inverse.reshape(pairs.shape)
    sizes = np.diff(sets.offsets)
    step = 1 << 16
    for s in range(0, len(pairs), step):
        lp = local[s : s + step]
        both = lp.reshape(-1)  # pair p owns slots 2p (left) and 2p+1 (right)
        lens = sizes[both]
        owner = np.repeat(np.arange(len(lp)), lens[0::2] + lens[1::2])
        starts = np.repeat(sets.offsets[both], lens)
        pos = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens) + starts
        h = sets.hashes[pos]
        order = np.lexsort((h, owner))
        h, owner = h[order], owner[order]
        dup = (h[1:] == h[:-1]) & (owner[1:] == owner[:-1])
        inter = np.bincount(owner[1:][dup], minlength=len(lp))
        union = lens[0::2] + lens[1::2] - inter
        out[s : s + step] = np.divide(inter, union, out=np.zeros(len(lp)), where=union > 0)
    return out
