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
share a key only if those 62 bits agree.  A rare shingle sharing a bucket
with a frequent one just ranks later.  Bucket counts add up over shards, so a distributed run can
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

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from instructkit.dedup.shingles import Shingles

#: A prefix shingle shared by more records than this + 1 is not expanded to all pairs (module docstring).
#: 16 missed 141 of the 5,049 pairs >= 0.8 of the real-data benchmark; 64 misses none there (and finds
#: 46k more on the 200k pool) at equal CPU, for 1.3M instead of 340k candidates in a 20,000-record template.
MAX_GROUP = 64
#: Bucket bits: the default grows with the corpus (~8 occurrences per bucket) up to DEFAULT_BUCKET_BITS;
#: with 2**22 buckets the rank-table lookups missed cache and key building cost more than the ~4% fewer
#: candidates saved (real-data benchmark).  Counts passed in may use up to MAX_BUCKET_BITS.
MIN_BUCKET_BITS, DEFAULT_BUCKET_BITS, MAX_BUCKET_BITS = 10, 20, 26
#: Candidate links generated (and verified) per chunk: bounds the temporaries whatever the pair count.
CHUNK_LINKS = 1 << 18
#: Shingles per chunk when ranking: 2 MB per int64 temporary.
CHUNK_SHINGLES = 1 << 18
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
    """Bucket bits for a corpus of this many shingle occurrences: ~8 occurrences per bucket, capped."""
    return min(max(int(shingles).bit_length() - 3, MIN_BUCKET_BITS), DEFAULT_BUCKET_BITS)


def _bucket(hashes: np.ndarray, bits: int) -> np.ndarray:
    return (hashes & np.uint64((1 << bits) - 1)).view(np.int64)


def bucket_counts(hashes: np.ndarray, bits: int) -> np.ndarray:
    """Occurrences per bucket ``hash & (2**bits - 1)``: the approximate frequency that orders the
    shingles.  Counts of shards add up to the counts of their union."""
    counts = np.zeros(1 << bits, np.int64)
    for s in range(0, len(hashes), CHUNK_SHINGLES):
        counts += np.bincount(_bucket(hashes[s : s + CHUNK_SHINGLES], bits), minlength=1 << bits)
    return counts


def _rank_table(counts: np.ndarray) -> tuple[np.ndarray, int]:
    """Each bucket's rank by count (ties by bucket), already shifted to the key's high bits, and the bits."""
    bits = int(len(counts)).bit_length() - 1
    if len(counts) != 1 << bits or not MIN_BUCKET_BITS <= bits <= MAX_BUCKET_BITS:
        raise ValueError(
            f"bucket counts must have 2**bits entries, bits in [{MIN_BUCKET_BITS}, {MAX_BUCKET_BITS}]"
        )
    # uint16 so the stable argsort is NumPy's radix sort; buckets seen 65,535+ times tie, by bucket
    order = np.argsort(np.minimum(counts, 0xFFFF).astype(np.uint16), kind="stable")
    rank = np.empty(len(counts), np.int64)
    rank[order] = np.arange(len(counts), dtype=np.int64) << np.int64(KEY_BITS - bits)
    return rank, bits


def _keys(hashes: np.ndarray, rank: np.ndarray, bits: int) -> np.ndarray:
    key = rank[_bucket(hashes, bits)]
    key |= (hashes >> np.uint64(64 - KEY_BITS + bits)).view(np.int64)
    return key


def order_keys(hashes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """int64 key per shingle hash: its bucket's rank by count (ties by bucket), then the hash's high bits."""
    return _keys(hashes, *_rank_table(counts))


def lex_order(
    key: np.ndarray, major: np.ndarray | None = None, first: np.ndarray | None = None
) -> np.ndarray:
    """Indices that sort elements by ``(major, key, index)``, with one ``np.sort`` of packed uint64.

    ``key`` is int64 in ``[0, 2**KEY_BITS)``.  With a ``major`` (int64 >= 0),
    elements must already be grouped by it, ascending, and ``first[i]`` is the
    index of the first element of ``i``'s group: only the order inside each
    group changes.  The packed word holds the major, as many high bits of the
    key as fit and the index within the group; where packed high bits tie but
    keys differ and come out of order (rare: 30+ key bits fit in practice),
    those runs are re-sorted exactly with ``lexsort``.  NumPy's ``sort`` of
    uint64 is SIMD and measured ~5x faster than ``argsort`` of the keys here.
    """
    n = len(key)
    if not n:
        return np.zeros(0, np.int64)
    at = np.arange(n, dtype=np.int64)
    minor = at if major is None or first is None else at - first
    a = int(major[-1]).bit_length() if major is not None else 0
    low = int(minor.max()).bit_length()
    top = 64 - a - low  # key bits that fit
    if top < 1:  # not reachable below ~2**40 elements; stay exact anyway
        return np.lexsort((at, key) if major is None else (at, key, major))
    drop = max(KEY_BITS - top, 0)
    packed = (key >> np.int64(drop)).view(np.uint64)
    packed <<= np.uint64(low)
    packed |= minor.view(np.uint64)
    if a:
        packed |= major.view(np.uint64) << np.uint64(64 - a)
    packed.sort()
    idx = (packed & np.uint64((1 << low) - 1)).view(np.int64)
    if major is not None and first is not None:
        idx += first  # sorting moved nothing across groups
    if drop == 0:
        return idx
    k = key[idx]
    bad = k[1:] < k[:-1]
    if major is not None:
        bad &= major[1:] == major[:-1]
    if bad.any():  # runs of equal packed heads whose keys came out of order: order them exactly
        head = packed >> np.uint64(low)
        run = np.zeros(n, np.int64)
        np.cumsum(head[1:] != head[:-1], out=run[1:])
        mark = np.zeros(int(run[-1]) + 1, bool)
        mark[run[1:][bad]] = True
        sel = np.flatnonzero(mark[run])
        idx[sel] = idx[sel][np.lexsort((idx[sel], k[sel], run[sel]))]
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
    rank, bits = _rank_table(counts)
    out = np.empty(len(sh.hashes), np.int64)
    sizes = np.zeros(n, np.int64)
    done = 0
    # record-aligned chunks of ~CHUNK_SHINGLES: every temporary stays a few MB (cache-sized, and
    # reused by the allocator instead of fresh pages: full-size temporaries cost more in page
    # faults than in arithmetic on a loaded VM)
    cuts = np.unique(np.searchsorted(sh.offsets, np.arange(0, len(sh.hashes), CHUNK_SHINGLES)))
    cuts = np.r_[cuts[cuts < n], n]
    for r0, r1 in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        o0, o1 = int(sh.offsets[r0]), int(sh.offsets[r1])
        if o0 == o1:
            continue
        key = _keys(sh.hashes[o0:o1], rank, bits)
        lens = np.diff(sh.offsets[r0 : r1 + 1])
        owner = np.repeat(np.arange(r1 - r0, dtype=np.int64), lens)
        key = key[lex_order(key, owner, np.repeat(sh.offsets[r0:r1] - o0, lens))]
        keep = np.empty(len(key), bool)
        keep[0] = True
        np.not_equal(key[1:], key[:-1], out=keep[1:])
        keep[(sh.offsets[r0:r1] - o0)[lens > 0]] = True  # a record's first shingle is always new
        sizes[r0:r1] = np.bincount(owner[keep], minlength=r1 - r0)
        key = key[keep]
        out[done : done + len(key)] = key
        done += len(key)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return Sets(out[:done], offsets)


def prefix_lengths(sizes: np.ndarray, threshold: float) -> np.ndarray:
    """``|x| - ceil(t |x|) + 1``, guarded against float round-up (0.8 * 5 = 4.000000000000001)."""
    need = np.ceil(sizes * threshold - _EPS).astype(np.int64)
    return np.where(sizes > 0, sizes - need + 1, 0)


@dataclass
class Prefixes:
    """Prefix shingles in two or more prefixes, sorted by (key, record): one group per shared key."""

    key: np.ndarray
    rec: np.ndarray  # record of each element
    pos: np.ndarray  # its position in the record's sorted set
    capped_before: np.ndarray  # prefix shingles of the record before it whose group is capped
    start: np.ndarray  # index of its group's first element
    group_size: np.ndarray  # per element

    @classmethod
    def grouped(
        cls, key: np.ndarray, rec: np.ndarray, pos: np.ndarray, capped_before: np.ndarray
    ) -> Prefixes:
        """Elements already sorted by (key, record); their groups found here."""
        start, group_size = groups(key)
        return cls(key, rec, pos, capped_before, start, group_size)


def groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted ``key``: each element's group start and the group's size."""
    at = np.arange(len(key))
    start = np.maximum.accumulate(np.where(np.r_[True, key[1:] != key[:-1]], at, 0))
    return start, np.bincount(start, minlength=len(key))[start]


def capped_before(capped: np.ndarray, plen: np.ndarray) -> np.ndarray:
    """Per prefix shingle (record order, ``plen`` per record): how many earlier ones of its record
    sit in capped groups, which the positional filter must allow for."""
    cum = np.zeros(len(capped) + 1, np.int64)
    np.cumsum(capped, out=cum[1:])
    return cum[:-1] - np.repeat(cum[np.cumsum(plen) - plen], plen)


def record_prefixes(sets: Sets, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each record's prefix shingles in record order: ``(index into sets.ranks, record, position)``."""
    sizes = sets.sizes()
    plen = prefix_lengths(sizes, threshold)
    owner = np.repeat(np.arange(len(sizes), dtype=np.int64), plen)
    local = np.arange(int(plen.sum()), dtype=np.int64) - np.repeat(np.cumsum(plen) - plen, plen)
    return np.repeat(sets.offsets[:-1], plen) + local, owner, local


def _prefixes(sets: Sets, threshold: float, max_group: int, stats: dict[str, int]) -> Prefixes:
    pick, owner, local = record_prefixes(sets, threshold)
    order = lex_order(sets.ranks[pick])
    key = sets.ranks[pick[order]]
    stats["prefix_shingles"] = len(pick)
    # Only keys in two or more prefixes can pair anything: most prefix shingles are unique.
    shared = np.zeros(len(key), bool)
    if len(key) > 1:
        same = key[1:] == key[:-1]
        shared[1:] |= same
        shared[:-1] |= same
    order, key = order[shared], key[shared]
    start, group_size = groups(key)
    capped = group_size > max_group + 1
    stats["capped_groups"] = int(np.count_nonzero(capped & (start == np.arange(len(key)))))
    flag = np.zeros(len(pick), bool)
    flag[order[capped]] = True
    before = capped_before(flag, prefix_lengths(sets.sizes(), threshold))
    return Prefixes(key, owner[order], local[order], before[order], start, group_size)


def _chunk_bounds(p: Prefixes, max_group: int, chunk_links: int) -> list[tuple[int, int]]:
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


def _chunk_codes(
    p: Prefixes, s: int, e: int, sizes: np.ndarray, threshold: float, max_group: int
) -> np.ndarray:
    """Sorted unique codes ``i * n + j`` (i < j) of pairs linked in ``p[s:e]`` that pass the size
    and positional filters."""
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
    most = np.minimum(sx - p.pos[a], sy - p.pos[b])
    most += np.minimum(p.capped_before[a], p.capped_before[b])
    ok &= most >= np.ceil((sx + sy) * threshold / (1.0 + threshold) - _EPS)
    x, y = x[ok], y[ok]
    return _unique(np.minimum(x, y) * len(sizes) + np.maximum(x, y))


def _unique(code: np.ndarray) -> np.ndarray:
    """Sorted distinct values (``np.unique`` on int64 measured up to ~50x slower than sort + mask here)."""
    code = np.sort(code)
    return code[np.r_[True, code[1:] != code[:-1]]] if len(code) else code


def candidate_pairs(
    sets: Sets, threshold: float, max_group: int = MAX_GROUP, chunk_links: int = CHUNK_LINKS
) -> tuple[np.ndarray, dict[str, int]]:
    """``int64 [m, 2]`` unique pairs (i < j) that may reach ``threshold``, and counts for the summary."""
    stats: dict[str, int] = {}
    p = _prefixes(sets, threshold, max_group, stats)
    sizes = sets.sizes()
    n = len(sizes)
    code = link(p, sizes, threshold, max_group, chunk_links)
    return np.stack((code // n, code % n), axis=1), stats


def link(
    p: Prefixes,
    sizes: np.ndarray,
    threshold: float,
    max_group: int = MAX_GROUP,
    chunk_links: int = CHUNK_LINKS,
) -> np.ndarray:
    """Sorted unique codes ``i * len(sizes) + j`` (i < j) of the pairs ``p``'s groups link.

    Links are made and filtered a group-aligned chunk of about ``chunk_links``
    at a time, and only the surviving pair codes (8 bytes each) are kept,
    de-duplicated whenever they double: the link temporaries never scale with
    the pair count.
    """
    codes: list[np.ndarray] = []
    held = compacted = 0
    for s, e in _chunk_bounds(p, max_group, chunk_links):
        codes.append(_chunk_codes(p, s, e, sizes, threshold, max_group))
        held += len(codes[-1])
        if (
            held > 2 * compacted + chunk_links
        ):  # amortised: each compaction at least doubles the held size
            codes = [_unique(np.concatenate(codes))]
            held = compacted = len(codes[0])
    return _unique(np.concatenate(codes)) if codes else np.zeros(0, np.int64)


def jaccard(sets: Sets, pairs: np.ndarray, block: int = 1 << 19) -> np.ndarray:
    """Exact Jaccard of each pair's sets: the row-wise product of two sparse binary matrices (SciPy
    merges the two sorted key lists in C; measured ~3x faster than sorting gathered sets).  Pairs go
    in blocks of about ``block`` set elements: 65,536 pairs at a time cost 2-4x more, in fresh pages."""
    out = np.zeros(len(pairs), np.float64)
    if not len(pairs):
        return out
    sizes = sets.sizes()
    x = sets.matrix()
    work = np.cumsum(sizes[pairs[:, 0]] + sizes[pairs[:, 1]])
    cuts = np.unique(np.searchsorted(work, np.arange(0, int(work[-1]), block), side="right"))
    for s, e in zip(np.r_[0, cuts[cuts > 0]].tolist(), np.r_[cuts[cuts > 0], len(pairs)].tolist()):
        if s >= e:
            continue
        p = pairs[s:e]
        inter = np.diff(
            x[p[:, 0]].multiply(x[p[:, 1]]).tocsr().indptr
        )  # products of 1s: one per common key
        union = sizes[p[:, 0]] + sizes[p[:, 1]] - inter
        out[s:e] = np.divide(inter, union, out=np.zeros(len(p)), where=union > 0)
    return out
