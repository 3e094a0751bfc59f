"""Candidate pairs for a Jaccard threshold by prefix filtering: exact, O(shingles), no signatures.

Order every distinct shingle globally.  Two sets with Jaccard ``>= t`` share
at least ``ceil(t * |x|)`` of ``x``'s shingles, so they share at least one of
the first ``|x| - ceil(t * |x|) + 1`` shingles of each set in that order (the
prefix filter of AllPairs / PPJoin, Bayardo et al. 2007; Xiao et al. 2008).
This holds for *any* total order; the order only decides how many candidates
come out, and rare shingles first gives the fewest.  Pairs that share a prefix
shingle, whose sizes are within the ratio ``t`` and whose positions leave room
for enough overlap (PPJoin's positional filter) are the candidates: no pair at
or above the threshold is missed, unlike MinHash LSH, and the work is two sorts
of packed 64-bit keys instead of ``shingles x permutations`` hash evaluations.

The order is by *approximate* frequency: shingle hashes fall into ``2**bits``
buckets (``hash & (2**bits - 1)``), buckets are ranked by their occurrence
count (a ``bincount``, no sort of the shingles), and a shingle's key is its
bucket's rank followed by the rest of its hash.  The key is a bijection of 62
of the hash's 64 bits (the bucket bits and the highest ones), so two shingles
share a key only if those 62 bits agree.  A rare shingle sharing a bucket with a frequent one just
ranks later.  Bucket counts add up over shards, so a distributed run can
share one order (``ranked_sets(sh, counts=...)``).

Rare shingles go first, so a record's prefix is its own distinctive text and
boilerplate shared by many records (a tool header, a system prompt) reaches a
prefix only when the record is nearly all boilerplate.  A prefix shingle
shared by more than ``max_group + 1`` records pairs each with the group's first
member and its next ``max_group`` members (records in input order), which
bounds the pairs of a huge template group at the cost of possibly missing
some pairs that share such a shingle; ``stats["capped_groups"]`` counts such
groups.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from instructkit.dedup.shingles import Shingles

#: A prefix shingle shared by more records than this is not expanded to all pairs (see the module docstring).
MAX_GROUP = 16
#: Bucket bits: the default grows with the corpus up to DEFAULT_BUCKET_BITS, whose int32 rank table
#: (1 MB) stays in L2; on the real-data benchmark 2**22 buckets (a 16 MB table, cache misses on every
#: lookup) cost more in key building than the 4% fewer candidates saved.  Up to MAX for given counts.
MIN_BUCKET_BITS, DEFAULT_BUCKET_BITS, MAX_BUCKET_BITS = 10, 18, 26
#: Candidate links generated (and verified) per chunk: bounds the temporaries whatever the pair count.
CHUNK_LINKS = 1 << 21
_EPS = 1e-9  # float guard: 0.8 * 5 = 4.000000000000001 must not round up to 5
#: Order keys are below 2**KEY_BITS: a SciPy column index (int64) with room for the matrix width.
KEY_BITS = 62


@dataclass
class Sets:
    """Each record's distinct shingles as order keys (int64 >= 0, rarest bucket first), sorted: CSR like
    :class:`Shingles`.  Keys are not dense ranks: they compare like ranks and are equal only for the same
    shingle."""

    ranks: np.ndarray  # int64
    offsets: np.ndarray  # int64, records + 1
    _matrix: sparse.csr_matrix | None = field(default=None, repr=False, compare=False)

    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def matrix(self) -> sparse.csr_matrix:
        """Binary records x keys matrix (built once): verification multiplies its rows."""
        if self._matrix is None:
            ranks = self.ranks.astype(np.int64, copy=False)
            width = int(ranks.max()) + 1 if len(ranks) else 1
            self._matrix = sparse.csr_matrix(
                (np.ones(len(ranks), np.float32), ranks, self.offsets),
                shape=(len(self.offsets) - 1, width),
            )
        return self._matrix


def bucket_bits(shingles: int) -> int:
    """Bucket bits for a corpus of this many shingle occurrences: ~16 occurrences per bucket, capped."""
    return min(max(int(shingles).bit_length() - 4, MIN_BUCKET_BITS), DEFAULT_BUCKET_BITS)


def bucket_counts(hashes: np.ndarray, bits: int) -> np.ndarray:
    """Occurrences per bucket ``hash & (2**bits - 1)``: the approximate frequency that orders the
    shingles.  Counts of shards add up to the counts of their union."""
    low = (hashes & np.uint64((1 << bits) - 1)).astype(np.intp)
    return np.bincount(low, minlength=1 << bits)


def order_keys(hashes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """int64 key per shingle hash: its bucket's rank by count (ties by bucket), then the hash's high bits."""
    bits = int(len(counts)).bit_length() - 1
    if len(counts) != 1 << bits or not MIN_BUCKET_BITS <= bits <= MAX_BUCKET_BITS:
        raise ValueError(
            f"bucket counts must have 2**bits entries, bits in [{MIN_BUCKET_BITS}, {MAX_BUCKET_BITS}]"
        )
    # uint16 so the stable argsort is NumPy's radix sort; buckets seen 65,535+ times tie, by bucket
    order = np.argsort(np.minimum(counts, 0xFFFF).astype(np.uint16), kind="stable")
    rank = np.empty(len(counts), np.int32)
    rank[order] = np.arange(len(counts), dtype=np.int32)
    low = (hashes & np.uint64((1 << bits) - 1)).astype(np.intp)
    key = rank[low].astype(np.int64) << np.int64(KEY_BITS - bits)
    key |= (hashes >> np.uint64(64 - KEY_BITS + bits)).astype(np.int64)
    return key


def lex_order(
    key: np.ndarray,
    minor: np.ndarray,
    major: np.ndarray | None = None,
    base: np.ndarray | None = None,
) -> np.ndarray:
    """Indices that sort elements by ``(major, key, minor)``, with one ``np.sort`` of packed uint64.

    ``key`` is int64 in ``[0, 2**KEY_BITS)``; ``minor`` (int64 >= 0) tells
    elements of one major apart, and element ``i`` must be at
    ``base[major[i]] + minor[i]`` (or ``minor[i]`` without a major).  The packed word holds the major, as many high bits of
    the key as fit, and the minor; elements whose packed high bits tie but
    whose keys differ (rare: 40+ key bits in practice) are re-sorted exactly
    with ``lexsort``.  NumPy's ``sort`` of uint64 is SIMD and measured ~5x
    faster than ``argsort`` of the keys on this machine.
    """
    if not len(key):
        return np.zeros(0, np.int64)
    a = int(major.max()).bit_length() if major is not None else 0
    low = int(minor.max()).bit_length()
    top = 64 - a - low  # key bits that fit
    if top < 1:  # not reachable below ~2**40 elements; stay exact anyway
        return np.lexsort((minor, key) if major is None else (minor, key, major))
    drop = max(KEY_BITS - top, 0)
    packed = (key >> np.int64(drop)).astype(np.uint64) << np.uint64(low)
    packed |= minor.astype(np.uint64)
    if a:
        packed |= major.astype(np.uint64) << np.uint64(64 - a)
    packed.sort()
    minor_s = (packed & np.uint64((1 << low) - 1)).astype(np.int64)
    if major is None or base is None:
        idx = minor_s
    else:
        idx = base[(packed >> np.uint64(64 - a)).astype(np.int64) if a else 0] + minor_s
    if drop == 0:
        return idx
    head = packed >> np.uint64(low)
    k = key[idx]
    bad = (head[1:] == head[:-1]) & (k[1:] != k[:-1])
    if bad.any():  # runs of equal packed heads holding different keys: order them exactly
        run = np.zeros(len(head), np.int64)
        np.cumsum(head[1:] != head[:-1], out=run[1:])
        mark = np.zeros(int(run[-1]) + 1, bool)
        mark[run[1:][bad]] = True
        sel = np.flatnonzero(mark[run])
        idx[sel] = idx[sel][np.lexsort((minor_s[sel], k[sel], run[sel]))]
    return idx


def ranked_sets(sh: Shingles, counts: np.ndarray | None = None) -> Sets:
    """Distinct shingles per record as order keys (approximate frequency, rarest first), each record's sorted.

    ``counts`` are :func:`bucket_counts` of the whole corpus (default: of
    ``sh``); shards ranked with the same counts share one global order.
    """
    n = len(sh.offsets) - 1
    if not len(sh.hashes):
        return Sets(np.zeros(0, np.int64), np.zeros(n + 1, np.int64))
    if counts is None:
        counts = bucket_counts(sh.hashes, bucket_bits(len(sh.hashes)))
    key = order_keys(sh.hashes, counts)
    lens = sh.counts()
    owner = np.repeat(np.arange(n, dtype=np.int64), lens)
    local = np.arange(len(owner), dtype=np.int64) - np.repeat(sh.offsets[:-1], lens)
    key = key[lex_order(key, local, owner, sh.offsets[:-1])]
    keep = np.ones(len(key), bool)
    keep[1:] = key[1:] != key[:-1]
    keep[sh.offsets[:-1][lens > 0]] = True  # a record's first shingle is always new
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(owner[keep], minlength=n), out=offsets[1:])
    return Sets(key[keep], offsets)


def prefix_lengths(sizes: np.ndarray, threshold: float) -> np.ndarray:
    """``|x| - ceil(t |x|) + 1``, guarded against float round-up (0.8 * 5 = 4.000000000000001)."""
    need = np.ceil(sizes * threshold - _EPS).astype(np.int64)
    return np.where(sizes > 0, sizes - need + 1, 0)


@dataclass
class _Prefixes:
    """Prefix shingles in two or more prefixes, sorted by (key, record): one group per shared key."""

    key: np.ndarray
    rec: np.ndarray  # record of each element
    pos: np.ndarray  # its position in the record's sorted set
    capped_before: np.ndarray  # prefix shingles of the record before it whose group is capped
    start: np.ndarray  # index of its group's first element
    group_size: np.ndarray  # per element


def _prefixes(sets: Sets, threshold: float, max_group: int, stats: dict[str, int]) -> _Prefixes:
    sizes = sets.sizes()
    n = len(sizes)
    plen = prefix_lengths(sizes, threshold)
    owner = np.repeat(np.arange(n, dtype=np.int64), sizes)
    local = np.arange(len(owner), dtype=np.int64) - np.repeat(sets.offsets[:-1], sizes)
    pick = np.flatnonzero(local < plen[owner])  # in record order
    order = lex_order(sets.ranks[pick], np.arange(len(pick), dtype=np.int64))
    key = sets.ranks[pick[order]]
    stats["prefix_shingles"] = len(pick)
    # Only keys in two or more prefixes can pair anything: most prefix shingles are unique.
    shared = np.zeros(len(key), bool)
    if len(key) > 1:
        same = key[1:] == key[:-1]
        shared[1:] |= same
        shared[:-1] |= same
    order, key = order[shared], key[shared]
    at = np.arange(len(key))
    start = np.maximum.accumulate(np.where(np.r_[True, key[1:] != key[:-1]], at, 0))
    group_size = np.bincount(start, minlength=len(key))[start]
    capped = group_size > max_group + 1
    stats["capped_groups"] = int(np.count_nonzero(capped & (start == at)))
    # Per prefix shingle (record order): how many earlier ones of its record sit in capped groups.
    flag = np.zeros(len(pick), np.int64)
    flag[order[capped]] = 1
    cum = np.zeros(len(pick) + 1, np.int64)
    np.cumsum(flag, out=cum[1:])
    before = cum[:-1] - np.repeat(cum[np.cumsum(plen) - plen], plen)
    el = pick[order]
    return _Prefixes(key, owner[el], local[el], before[order], start, group_size)


def _chunk_bounds(p: _Prefixes, max_group: int, chunk_links: int) -> list[tuple[int, int]]:
    """Group-aligned slices of ``p`` holding about ``chunk_links`` links each."""
    firsts = np.flatnonzero(p.start == np.arange(len(p.key)))
    g = p.group_size[firsts]
    w = np.minimum(g - 1, max_group)
    links = w * g - w * (w + 1) // 2 + np.maximum(g - 1 - max_group, 0)  # window + star beyond it
    total = np.cumsum(links)
    bounds = []
    i = 0
    while i < len(firsts):
        j = int(np.searchsorted(total, (total[i - 1] if i else 0) + chunk_links, side="right"))
        j = max(j, i + 1)
        bounds.append((int(firsts[i]), int(firsts[j]) if j < len(firsts) else len(p.key)))
        i = j
    return bounds


def _chunk_pairs(
    p: _Prefixes, s: int, e: int, sizes: np.ndarray, threshold: float, max_group: int
) -> np.ndarray:
    """Unique pairs (i < j) linked in ``p[s:e]`` that pass the size and positional filters."""
    key = p.key[s:e]
    at = np.arange(s, e)
    far = at - p.start[s:e] > max_group  # the star link, where the window does not reach
    left = [p.start[s:e][far]]
    right = [at[far]]
    for d in range(1, max_group + 1):
        same = np.flatnonzero(key[:-d] == key[d:])
        if not len(same):
            break
        left.append(same + s)
        right.append(same + s + d)
    a, b = np.concatenate(left), np.concatenate(right)
    x, y = p.rec[a], p.rec[b]
    sx, sy = sizes[x], sizes[y]
    ok = np.minimum(sx, sy) >= np.ceil(
        np.maximum(sx, sy) * threshold - _EPS
    )  # J <= |small| / |big|
    # PPJoin: shared shingles sit at or after this one in both sets, except ones in capped groups
    # before it (where the pair may not have been linked), so the overlap is at most:
    most = np.minimum(sx - p.pos[a], sy - p.pos[b]) + np.minimum(
        p.capped_before[a], p.capped_before[b]
    )
    ok &= most >= np.ceil((sx + sy) * threshold / (1.0 + threshold) - _EPS)
    x, y = x[ok], y[ok]
    code = np.minimum(x, y) * len(sizes) + np.maximum(x, y)
    code.sort()
    code = code[np.r_[True, code[1:] != code[:-1]]] if len(code) else code
    return np.stack((code // len(sizes), code % len(sizes)), axis=1)


def iter_candidates(
    sets: Sets,
    threshold: float,
    max_group: int = MAX_GROUP,
    chunk_links: int = CHUNK_LINKS,
    stats: dict[str, int] | None = None,
) -> Iterator[np.ndarray]:
    """Candidate pairs in chunks of about ``chunk_links`` links, each chunk's pairs unique (i < j).

    A pair linked by shingles in two chunks comes out twice; verifying chunk by
    chunk keeps memory bounded by the chunk, not by the pair count.  ``stats``
    gets ``prefix_shingles`` and ``capped_groups``.
    """
    stats = {} if stats is None else stats
    p = _prefixes(sets, threshold, max_group, stats)
    sizes = sets.sizes()
    for s, e in _chunk_bounds(p, max_group, chunk_links):
        yield _chunk_pairs(p, s, e, sizes, threshold, max_group)


def candidate_pairs(
    sets: Sets, threshold: float, max_group: int = MAX_GROUP
) -> tuple[np.ndarray, dict[str, int]]:
    """``int64 [m, 2]`` unique pairs (i < j) that may reach ``threshold``, and counts for the summary."""
    stats: dict[str, int] = {}
    chunks = list(iter_candidates(sets, threshold, max_group, stats=stats))
    return unique_pairs(
        np.concatenate(chunks) if chunks else np.zeros((0, 2), np.int64), len(sets.sizes())
    ), stats


def unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    """Distinct rows of ``[m, 2]`` pairs (i < j < n), sorted (``np.unique`` on int64 measured ~50x slower)."""
    if not len(pairs):
        return np.zeros((0, 2), np.int64)
    code = np.sort(pairs[:, 0] * n + pairs[:, 1])
    code = code[np.r_[True, code[1:] != code[:-1]]]
    return np.stack((code // n, code % n), axis=1)


def jaccard(sets: Sets, pairs: np.ndarray, block: int = 1 << 16) -> np.ndarray:
    """Exact Jaccard of each pair's sets: the row-wise product of two sparse binary matrices (SciPy
    merges the two sorted key lists in C; measured ~3x faster than sorting gathered sets)."""
    out = np.zeros(len(pairs), np.float64)
    if not len(pairs):
        return out
    sizes = sets.sizes()
    x = sets.matrix()
    for s in range(0, len(pairs), block):
        p = pairs[s : s + block]
        inter = np.diff(
            x[p[:, 0]].multiply(x[p[:, 1]]).tocsr().indptr
        )  # products of 1s: one per common key
        union = sizes[p[:, 0]] + sizes[p[:, 1]] - inter
        out[s : s + block] = np.divide(inter, union, out=np.zeros(len(p)), where=union > 0)
    return out
