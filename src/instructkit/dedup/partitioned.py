"""Dedup in partitions: the same pairs as :mod:`.exact` and :mod:`.near`, found where the records are.

The single-machine path ships every record's text to one place.  Here each
batch of records is turned into compact features where it was read
(:func:`observe`: a 128-bit hash of the normalised text and the record's
distinct shingle hashes), and those stay there; the phases below move only
hashes, counts and record numbers between partitions, and only the verified
pairs reach the driver, which clusters them with the local rules
(:func:`instructkit.steps.dedup.decide_by`).

Every phase is a pure function over arrays, returning a list (one item per
output partition), and an :class:`Executor` runs them: :class:`Inline` in this
process (tests), the Ray engine as tasks (:mod:`instructkit.engines.ray_dedup`).

Why the result is the local one, pair for pair:

- exact: records with equal hashes meet in the hash's partition, which returns
  (first seen, copy) pairs; clusters of equality are components either way.
- near: the local prefix filter (:mod:`.prefix`) orders shingles by the count
  of their hash bucket over the live records.  Bucket counts add up, so each
  batch counts its own and the sums are reduced in bucket ranges
  (:func:`bucket_split`, :func:`bucket_merge`); every batch then keys and
  sorts its records' shingles exactly as
  :func:`~instructkit.dedup.prefix.ranked_sets` does and picks the same
  prefixes.  A first shuffle on the prefix keys sizes every group
  (:func:`group_sizes`: which keys are shared, which groups are capped), so
  each batch knows the capped-group allowance of PPJoin's positional filter
  for its records; a second sends the shared prefix shingles to their key's
  partition, which links them by the local rule
  (:func:`~instructkit.dedup.prefix.link`), so even capped groups give the
  same candidates.  The candidates go to the verify partition of their first
  record, which removes the repeats and asks each batch for the shingle sets
  of the records it names (a join: :func:`plan`, :func:`gather`; only those
  sets move), then measures the exact Jaccard with
  :func:`~instructkit.dedup.prefix.jaccard`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import xxhash

from instructkit.dedup.fields import record_texts
from instructkit.dedup.prefix import (
    DEFAULT_BUCKET_BITS,
    MAX_GROUP,
    Prefixes,
    Sets,
    bucket_bits,
    bucket_counts,
    capped_before,
    groups,
    jaccard,
    link,
    ranked_sets,
    record_prefixes,
)
from instructkit.dedup.shingles import Shingles, shingle
from instructkit.schema import scores_frame
from instructkit.steps.base import Decision
from instructkit.steps.dedup import DedupConfig, check_quality, decide_by
from instructkit.text import normalize

#: A phase: arrays in, one item per output partition out.
Phase = Callable[..., list[Any]]


class Executor(Protocol):
    """Runs phases: ``submit`` returns one handle per output (a value, or a Ray object ref)."""

    def submit(self, fn: Phase, *args: Any, returns: int = 1) -> list[Any]: ...

    def get(self, handles: list[Any]) -> list[Any]: ...

    def put(self, value: Any) -> Any: ...


class Inline:
    """Every phase at once, in this process: handles are the values themselves."""

    def submit(self, fn: Phase, *args: Any, returns: int = 1) -> list[Any]:
        out = fn(*args)
        assert len(out) == returns, (fn.__name__, len(out), returns)
        return out

    def get(self, handles: list[Any]) -> list[Any]:
        return handles

    def put(self, value: Any) -> Any:
        return value


@dataclass
class Sigs:
    """One batch's features that stay where the batch was read (never sent to the driver)."""

    #: xxh3-128 of each record's normalised text as two uint64 columns; ``[rows, 2]``.
    digest: np.ndarray
    #: Records whose normalised text is empty: they never match.
    empty: np.ndarray
    #: Each record's distinct shingle hashes, sorted (CSR with ``offsets``), and how often each occurs.
    hashes: np.ndarray
    mult: np.ndarray
    offsets: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.empty)


def observe(table: pa.Table, c: DedupConfig) -> tuple[pa.Table, Sigs]:
    """The driver's part of a batch (id and ``--keep-best`` quality: no text) and the batch's :class:`Sigs`."""
    texts = record_texts(table, c.fields)
    norm = [normalize(t) for t in texts]
    digest = np.zeros((len(norm), 2), np.uint64)
    for i, t in enumerate(norm):
        d = xxhash.xxh3_128_intdigest(t.encode("utf-8", "surrogatepass"))
        digest[i] = (d >> 64, d & 0xFFFFFFFFFFFFFFFF)
    sh = shingle(norm if "near" in c.method else [""] * len(norm), c.ngram)
    owner = np.repeat(np.arange(len(norm), dtype=np.int64), np.diff(sh.offsets))
    order = np.lexsort((sh.hashes, owner))
    h, owner = sh.hashes[order], owner[order]
    first = np.ones(len(h), bool)
    first[1:] = (h[1:] != h[:-1]) | (owner[1:] != owner[:-1])
    starts = np.flatnonzero(first)
    mult = np.diff(np.append(starts, len(h))).astype(np.int32)
    offsets = np.zeros(len(norm) + 1, np.int64)
    np.cumsum(np.bincount(owner[starts], minlength=len(norm)), out=offsets[1:])
    columns: dict[str, Any] = {"id": table.column("id")}
    if c.keep_best:
        columns["quality"] = scores_frame(table).get(c.keep_best, np.full(table.num_rows, np.nan))
    sigs = Sigs(digest, np.array([not t for t in norm], bool), h[starts], mult, offsets)
    return pa.table(columns), sigs


def _split(parts: int, key: np.ndarray, *columns: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """``columns`` cut by ``key % parts``, each piece in the original order."""
    where = (key % np.uint64(parts)).astype(np.int64)
    return [tuple(col[where == p] for col in columns) for p in range(parts)]


def _rows_of(sigs: Sigs, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shingle hashes, multiplicities and set sizes of ``rows``, concatenated in row order."""
    lens = sigs.offsets[rows + 1] - sigs.offsets[rows]
    pos = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    pos += np.repeat(sigs.offsets[rows], lens)
    return sigs.hashes[pos], sigs.mult[pos], lens


# --- exact: group by content hash ---------------------------------------------------------


def exact_split(sigs: Sigs, alive: np.ndarray, start: int, parts: int) -> list[Any]:
    """Map: ``(hash hi, hash lo, record)`` of the live, non-empty records, by hash partition."""
    rows = np.flatnonzero(alive & ~sigs.empty)
    d = sigs.digest[rows]
    return _split(parts, d[:, 1], d[:, 0], d[:, 1], rows + start)


def exact_reduce(*pieces: tuple[np.ndarray, ...]) -> list[Any]:
    """Reduce: ``[m, 2]`` (first seen, later copy) pairs of records with equal hashes."""
    hi, lo, rec = (np.concatenate([p[k] for p in pieces]) for k in range(3))
    order = np.lexsort((rec, lo, hi))
    hi, lo, rec = hi[order], lo[order], rec[order]
    new = np.ones(len(rec), bool)
    new[1:] = (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])
    first = rec[np.flatnonzero(new)[np.cumsum(new) - 1]]
    return [np.stack((first[~new], rec[~new]), axis=1).astype(np.int64).reshape(-1, 2)]


# --- near: shingle counts, prefixes, candidates, verification -----------------------------


def _live_sets(sigs: Sigs, counts: np.ndarray, rows: np.ndarray) -> Sets:
    """``rows``' shingle sets as the local filter keys them (global order from ``counts``)."""
    h, _, lens = _rows_of(sigs, rows)
    offsets = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    return ranked_sets(Shingles(h, offsets), counts)


def bucket_split(sigs: Sigs, alive: np.ndarray, parts: int) -> list[Any]:
    """Map: the batch's shingle occurrences per bucket (at the most bits), cut into ``parts`` bucket
    ranges; the last item is the batch's number of occurrences (it sets the bucket bits)."""
    h, m, _ = _rows_of(sigs, np.flatnonzero(alive))
    # uint16, saturated: the order ranks min(count, 65535) (prefix._rank_table), and saturating
    # each batch first changes no such minimum of the sum; 2 MB per batch whatever its size
    counts = bucket_counts(np.repeat(h, m), DEFAULT_BUCKET_BITS)
    counts = np.minimum(counts, 0xFFFF).astype(np.uint16)
    return [*np.array_split(counts, parts), int(m.sum())]


def bucket_merge(*pieces: np.ndarray) -> list[Any]:
    """Reduce: one bucket range's counts summed over the batches."""
    return [np.sum(pieces, axis=0, dtype=np.int64)]


def prefix_split(
    sigs: Sigs, alive: np.ndarray, start: int, threshold: float, counts: np.ndarray, parts: int
) -> list[Any]:
    """Map: each live record's prefix keys by key partition (to size the groups), then the prefix
    shingles themselves ``(key, record, position, set size, prefix length per record)``, which stay
    here until the groups are sized, and the batch's prefix total."""
    rows = np.flatnonzero(alive)
    sets = _live_sets(sigs, counts, rows)
    pick, owner, pos = record_prefixes(sets, threshold)
    key = sets.ranks[pick]
    plen = np.bincount(owner, minlength=len(rows))
    elements = (key, rows[owner] + start, pos, sets.sizes()[owner], plen)
    where = key % parts
    return [*(key[where == p] for p in range(parts)), elements, len(pick)]


def group_sizes(*pieces: np.ndarray) -> list[Any]:
    """Reduce: the size of each piece's groups (records sharing the prefix key), returned to each
    batch; the last item is the count of capped groups."""
    keys = np.concatenate(pieces)
    order = np.argsort(keys, kind="stable")
    start, size = groups(keys[order])
    capped = int(np.count_nonzero((size > MAX_GROUP + 1) & (start == np.arange(len(keys)))))
    back = np.empty(len(keys), np.int32)
    back[order] = size
    cuts = np.cumsum([len(p) for p in pieces])[:-1]
    return [*np.split(back, cuts), capped]


def link_split(elements: tuple[np.ndarray, ...], parts: int, *sizes: np.ndarray) -> list[Any]:
    """Map: the batch's shared prefix shingles, with their records' capped-group allowance, by key
    partition."""
    key, rec, pos, size, plen = elements
    where = key % parts
    group = np.zeros(len(key), np.int64)
    for p, s in enumerate(sizes):
        group[where == p] = s
    before = capped_before(group > MAX_GROUP + 1, plen)
    shared = group >= 2
    cols = (key, rec, pos, size, before)
    return [tuple(c[shared & (where == p)] for c in cols) for p in range(parts)]


def link_reduce(threshold: float, parts: int, *pieces: tuple[np.ndarray, ...]) -> list[Any]:
    """Reduce: candidate pairs of one key partition by the local rule, sent to the verify
    partition of the pair's first record."""
    key, rec, pos, size, before = (np.concatenate([p[k] for p in pieces]) for k in range(5))
    order = np.lexsort((rec, key))
    key, rec, pos, size, before = (c[order] for c in (key, rec, pos, size, before))
    recs = np.unique(rec)
    local = np.searchsorted(recs, rec)
    sizes = np.zeros(len(recs), np.int64)
    sizes[local] = size
    code = link(Prefixes.grouped(key, local, pos, before), sizes, threshold)
    a, b = recs[code // max(len(recs), 1)], recs[code % max(len(recs), 1)]
    where = a % parts
    return [np.stack((a[where == q], b[where == q]), axis=1) for q in range(parts)]


def plan(starts: np.ndarray, *pieces: np.ndarray) -> list[Any]:
    """A verify partition's pairs without repeats (the last item) and, for each batch, the
    records (sorted) whose shingle sets it needs from there: the request half of the join."""
    pairs = np.unique(np.concatenate(pieces).reshape(-1, 2), axis=0)
    records = np.unique(pairs)
    which = np.searchsorted(starts, records, side="right") - 1
    return [*(records[which == k] for k in range(len(starts) - 1)), pairs]


def gather(start: int, sigs: Sigs, counts: np.ndarray, *requests: np.ndarray) -> list[Any]:
    """A batch's answer to each verify partition: the keyed shingle sets of the records it asked for."""
    out = []
    for rows in requests:
        sets = _live_sets(sigs, counts, rows - start)
        out.append((sets.ranks, sets.sizes()))
    return out


def _jaccard(pairs: np.ndarray, sets: tuple[tuple[np.ndarray, np.ndarray], ...]) -> np.ndarray:
    """Exact Jaccard of record pairs from the keyed sets every batch sent (``np.unique(pairs)``, in order)."""
    if not len(pairs):
        return np.zeros(0)
    keys = np.concatenate([k for k, _ in sets])
    offsets = np.zeros(sum(len(n) for _, n in sets) + 1, np.int64)
    np.cumsum(np.concatenate([n for _, n in sets]), out=offsets[1:])
    records = np.unique(pairs)
    return jaccard(Sets(keys, offsets), np.searchsorted(records, pairs))


def verify(threshold: float, pairs: np.ndarray, *sets: tuple[np.ndarray, np.ndarray]) -> list[Any]:
    """Reduce: the partition's candidates kept when their exact Jaccard reaches the threshold:
    ``[verified pairs, their Jaccard, candidates]``."""
    sim = _jaccard(pairs, sets)
    ok = sim >= threshold
    return [pairs[ok], sim[ok], len(pairs)]


def measure(pairs: np.ndarray, *sets: tuple[np.ndarray, np.ndarray]) -> list[Any]:
    """The exact Jaccard of any record pairs (a rejected record and its keeper, for the detail)."""
    return [_jaccard(pairs, sets)]


# --- the driver's side --------------------------------------------------------------------


def decide(
    c: DedupConfig, features: list[pa.Table], sigs: list[Any], ex: Executor, parts: int
) -> Decision:
    """The dedup decision from each batch's features (driver) and :class:`Sigs` handles (workers).

    ``parts``: the partitions of each shuffle (any number gives the same decision)."""
    table = pa.concat_tables(features)
    quality = None
    if c.keep_best:
        quality = check_quality(c, table.column("quality").to_numpy(zero_copy_only=False))
    starts = np.zeros(len(features) + 1, np.int64)
    np.cumsum([f.num_rows for f in features], out=starts[1:])
    run = _Run(c, sigs, starts, ex, max(1, parts))

    def pairs_of(method: str, alive: np.ndarray) -> Any:
        mask = np.zeros(starts[-1], bool)
        mask[alive] = True
        if method == "exact":
            pairs = run.exact(mask)
            return np.searchsorted(alive, pairs), lambda a, b: np.ones(len(a)), {}
        if method == "near":
            pairs, sims, info = run.near(mask)
            n = int(starts[-1])
            known = pairs[:, 0] * n + pairs[:, 1]
            order = np.argsort(known)

            def similarity(drop: np.ndarray, kept: np.ndarray) -> np.ndarray:
                """A verified pair's Jaccard as verified; others (components) measured anew."""
                a, b = alive[drop], alive[kept]
                if not len(known):
                    return run.measure(np.stack((a, b), axis=1))
                code = np.minimum(a, b) * n + np.maximum(a, b)
                at = order[np.minimum(np.searchsorted(known, code, sorter=order), len(order) - 1)]
                found = known[at] == code
                out = np.where(found, sims[at], 0.0)
                out[~found] = run.measure(np.stack((a[~found], b[~found]), axis=1))
                return out

            return np.searchsorted(alive, pairs), similarity, info
        raise ValueError(f"partitioned dedup has no method '{method}'")

    return decide_by(c, table.column("id").to_pylist(), quality, pairs_of)


@dataclass
class _Run:
    """The phases of one decision, scheduled on an executor; pairs are record numbers."""

    c: DedupConfig
    sigs: list[Any]
    starts: np.ndarray
    ex: Executor
    parts: int
    #: The global bucket counts (a handle), set by :meth:`near`: every shingle set is keyed by them.
    counts: Any = None

    def _alive(self, mask: np.ndarray, k: int) -> np.ndarray:
        return mask[self.starts[k] : self.starts[k + 1]]

    def _shuffle(
        self, maps: list[list[Any]], fn: Phase, *args: Any, returns: int
    ) -> list[list[Any]]:
        """Each reduce ``p`` of ``fn`` gets piece ``p`` of every map output."""
        return [
            self.ex.submit(fn, *args, *(m[p] for m in maps), returns=returns)
            for p in range(self.parts)
        ]

    def exact(self, mask: np.ndarray) -> np.ndarray:
        ex, P = self.ex, self.parts
        maps = [
            ex.submit(exact_split, s, self._alive(mask, k), int(self.starts[k]), P, returns=P)
            for k, s in enumerate(self.sigs)
        ]
        reduced = self._shuffle(maps, exact_reduce, returns=1)
        return np.concatenate(ex.get([r[0] for r in reduced])).reshape(-1, 2)

    def near(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        ex, P, B, t = self.ex, self.parts, len(self.sigs), self.c.threshold
        t0 = time.perf_counter()
        buckets = [
            ex.submit(bucket_split, s, self._alive(mask, k), P, returns=P + 1)
            for k, s in enumerate(self.sigs)
        ]
        merged = self._shuffle([b[:P] for b in buckets], bucket_merge, returns=1)
        total = sum(ex.get([b[P] for b in buckets]))
        bits = bucket_bits(
            total
        )  # as the local filter sizes its buckets, folded from the most bits
        counts = np.concatenate(ex.get([m[0] for m in merged])).reshape(-1, 1 << bits).sum(axis=0)
        self.counts = ex.put(counts)
        prefixes = [
            ex.submit(
                prefix_split,
                s,
                self._alive(mask, k),
                int(self.starts[k]),
                t,
                self.counts,
                P,
                returns=P + 2,
            )
            for k, s in enumerate(self.sigs)
        ]
        chosen = sum(ex.get([p[P + 1] for p in prefixes]))
        sized = self._shuffle([p[:P] for p in prefixes], group_sizes, returns=B + 1)
        capped = sum(ex.get([g[B] for g in sized]))
        t1 = time.perf_counter()
        shared = [
            ex.submit(link_split, p[P], P, *(sized[q][k] for q in range(P)), returns=P)
            for k, p in enumerate(prefixes)
        ]
        linked = self._shuffle(shared, link_reduce, t, P, returns=P)
        t2 = time.perf_counter()
        plans, sets = self._join([[r[q] for r in linked] for q in range(P)])
        verified = [
            ex.submit(verify, t, plans[q][B], *(s[q] for s in sets), returns=3) for q in range(P)
        ]
        got = ex.get([h for v in verified for h in v])
        pairs = np.concatenate([got[i] for i in range(0, len(got), 3)]).reshape(-1, 2)
        sims = np.concatenate([got[i] for i in range(1, len(got), 3)])
        candidates = sum(got[i] for i in range(2, len(got), 3))
        t3 = time.perf_counter()
        info = {
            "index": "prefix",
            "prefix_shingles": int(chosen),
            "capped_groups": capped,
            "candidates": int(candidates),
            "verified": len(pairs),
            "verify": "exact",
            "stage_seconds": {
                "shingle": 0.0,  # done by the workers while observing
                "index": round(t1 - t0, 3),
                "candidates": round(t2 - t1, 3),
                "verify": round(t3 - t2, 3),
            },
            "threshold": self.c.threshold,
            "ngram": self.c.ngram,
        }
        return pairs, sims, info

    def _join(self, pieces: list[list[Any]]) -> tuple[list[list[Any]], list[list[Any]]]:
        """Each verify partition ``q`` (``pieces[q]``: its pairs) gets the shingle sets of the
        records it names, and only those: ``plans[q][B]`` its pairs, ``sets[k][q]`` batch k's part."""
        ex, B, Q = self.ex, len(self.sigs), len(pieces)
        plans = [ex.submit(plan, self.starts, *p, returns=B + 1) for p in pieces]
        sets = [
            ex.submit(
                gather, int(self.starts[k]), s, self.counts, *(p[k] for p in plans), returns=Q
            )
            for k, s in enumerate(self.sigs)
        ]
        return plans, sets

    def measure(self, pairs: np.ndarray) -> np.ndarray:
        """Jaccard of any pairs (as given, on the driver), measured in the partition of the first record."""
        if not len(pairs):
            return np.zeros(0)
        where = pairs.min(axis=1) % self.parts
        mine = [np.flatnonzero(where == q) for q in range(self.parts)]
        _, sets = self._join([[pairs[m]] for m in mine])
        jobs = [
            self.ex.submit(measure, pairs[m], *(s[q] for s in sets))[0] for q, m in enumerate(mine)
        ]
        out = np.zeros(len(pairs))
        for m, sim in zip(mine, self.ex.get(jobs)):
            out[m] = sim
        return out
