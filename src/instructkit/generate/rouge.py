"""ROUGE-L against a growing pool, fast enough for pools of tens of thousands of instructions.

Self-Instruct keeps a candidate only when its ROUGE-L F-measure with every
instruction already in the pool is below a threshold (0.7).  Scoring each
candidate against the whole pool with a pure-Python LCS is what makes the
original code slow as the pool grows; here:

1. Tokens are those of the ``rouge-score`` package without stemming (lower
   case, runs of anything but ``a-z0-9`` split words), mapped to integer ids.
2. An inverted index (token id -> pool rows and counts) gives, with one
   ``bincount``, the multiset unigram overlap of the candidate with every pool
   row.  The LCS is at most that overlap, so ``2·overlap / (m + n)`` bounds the
   F-measure (which is symmetric: ``2·lcs / (m + n)``): rows whose bound is
   below the threshold cannot be too similar and are never compared.
3. The exact LCS of the candidate with every remaining row is one dynamic
   programme over a padded ``rows × length`` matrix: per candidate token, a
   vectorised max and a ``maximum.accumulate`` along the row (the in-row
   dependency of the LCS recurrence is a running maximum).

The final score uses rouge-score's own formula (precision, recall, then
``2pr / (p + r)``) so the keep/reject decisions match it exactly.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
#: Id for a candidate token absent from the pool: it matches nothing (padding is -1).
_UNSEEN = -2
#: Pool rows per exact-LCS block: large enough to vectorise, small enough to keep padding low.
_CHUNK = 2048


def tokenize(text: str) -> list[str]:
    """rouge-score's default tokenisation without a stemmer."""
    return _NON_ALNUM.sub(" ", text.lower()).split()


def fmeasure(lcs: np.ndarray, m: int, n: np.ndarray) -> np.ndarray:
    """ROUGE-L F-measure as rouge-score computes it (0 where either side is empty or nothing matches)."""
    lcs = lcs.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = lcs / m
        r = lcs / n
        f = 2 * p * r / (p + r)
    return np.where((lcs > 0) & (n > 0), f, 0.0) if m else np.zeros(len(n))


def lcs_lengths(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """LCS length of token ids ``a`` with every row of ``rows`` (padded with -1), all rows at once."""
    k, width = rows.shape
    prev = np.zeros((k, width + 1), np.int32)
    cur = np.zeros_like(prev)
    for tok in a:
        step = np.maximum(prev[:, 1:], prev[:, :-1] + (rows == tok))
        np.maximum.accumulate(step, axis=1, out=cur[:, 1:])
        prev, cur = cur, prev
    return prev[:, -1]


class _Postings:
    """Pool rows (and the token's count in each) for one token, in a growing array."""

    __slots__ = ("rows", "counts", "size")

    def __init__(self) -> None:
        self.rows = np.empty(4, np.int32)
        self.counts = np.empty(4, np.int32)
        self.size = 0

    def add(self, row: int, count: int) -> None:
        if self.size == len(self.rows):
            self.rows = np.resize(self.rows, 2 * self.size)
            self.counts = np.resize(self.counts, 2 * self.size)
        self.rows[self.size] = row
        self.counts[self.size] = count
        self.size += 1


@dataclass(frozen=True, slots=True)
class Nearest:
    """The pool row most similar to a candidate among those that could reach the threshold."""

    row: int
    score: float


class RougeIndex:
    """A pool of texts that answers "which pool text is at least ``threshold`` ROUGE-L to this one?"."""

    def __init__(self, threshold: float = 0.7) -> None:
        self.threshold = threshold
        self.vocab: dict[str, int] = {}
        self.postings: list[_Postings] = []
        self.lengths = np.zeros(16, np.int32)
        self.tokens = np.full((16, 8), -1, np.int32)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def _ids(self, toks: list[str], grow: bool) -> np.ndarray:
        if grow:
            for t in toks:
                if t not in self.vocab:
                    self.vocab[t] = len(self.vocab)
                    self.postings.append(_Postings())
        return np.array([self.vocab.get(t, _UNSEEN) for t in toks], np.int32)

    def add(self, text: str) -> int:
        """Add a text to the pool; its row number."""
        ids = self._ids(tokenize(text), grow=True)
        row = self.size
        if row == len(self.lengths):
            self.lengths = np.resize(self.lengths, 2 * row)
            grown = np.full((2 * row, self.tokens.shape[1]), -1, np.int32)
            grown[:row] = self.tokens
            self.tokens = grown
        if len(ids) > self.tokens.shape[1]:
            wider = np.full(
                (len(self.tokens), max(len(ids), 2 * self.tokens.shape[1])), -1, np.int32
            )
            wider[:, : self.tokens.shape[1]] = self.tokens
            self.tokens = wider
        self.tokens[row, : len(ids)] = ids
        self.lengths[row] = len(ids)
        for t, c in Counter(ids.tolist()).items():
            self.postings[t].add(row, c)
        self.size += 1
        return row

    def candidates(self, ids: np.ndarray) -> np.ndarray:
        """Pool rows whose unigram-overlap bound reaches the threshold."""
        m = len(ids)
        known = ids[ids >= 0]
        if m == 0 or len(known) == 0 or self.size == 0:
            return np.empty(0, np.int64)
        uniq, counts = np.unique(known, return_counts=True)
        plists = [self.postings[t] for t in uniq.tolist()]
        rows = np.concatenate([p.rows[: p.size] for p in plists])
        mins = np.concatenate(
            [np.minimum(p.counts[: p.size], c) for p, c in zip(plists, counts.tolist())]
        )
        overlap = np.bincount(rows, weights=mins, minlength=self.size)
        bound = 2 * overlap / (m + self.lengths[: self.size])
        return np.flatnonzero(bound >= self.threshold - 1e-9)

    def encode(self, text: str) -> np.ndarray:
        """Token ids of a text as the pool knows them (unseen tokens match nothing)."""
        return self._ids(tokenize(text), grow=False)

    def nearest(self, text: str) -> Nearest | None:
        """The most similar pool row at or above the threshold, or None when every row is below it."""
        ids = self.encode(text)
        rows = self.candidates(ids)
        if len(rows) == 0:
            return None
        scores = self._exact(ids, rows)
        best = int(np.argmax(scores))
        if scores[best] < self.threshold:
            return None
        return Nearest(int(rows[best]), float(scores[best]))

    def scores(self, text: str, rows: np.ndarray) -> np.ndarray:
        """Exact ROUGE-L of ``text`` with the given pool rows (no bound; for checks and benchmarks)."""
        return self._exact(self.encode(text), np.asarray(rows))

    def _exact(self, ids: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact scores, rows taken in chunks of similar length so that padding stays small."""
        n = self.lengths[rows]
        out = np.zeros(len(rows))
        order = np.argsort(n, kind="stable")
        for start in range(0, len(order), _CHUNK):
            part = order[start : start + _CHUNK]
            width = max(int(n[part].max()), 1)
            lcs = lcs_lengths(ids, self.tokens[rows[part], :width])
            out[part] = fmeasure(lcs, len(ids), n[part])
        return out
