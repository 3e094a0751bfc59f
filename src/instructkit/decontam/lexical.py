"""Rare-word containment: which benchmark items a turn could be a copy or rephrasing of, in milliseconds.

A rephrased benchmark item keeps its numbers, names and technical terms while
its common words change.  Each benchmark text is a sparse row over its
*content* words (words in at most ``MAX_DF`` of the benchmark's texts; the
rest are too common to say anything and would make the product dense),
weighted by ``idf**2``.  One sparse matrix product (SciPy) gives, for every
turn and benchmark text, the shared rare-word mass; divided by the text's
total it is the *containment*, the share of the text's rare-word mass that
the turn holds (1.0 when every content word of the text is in the turn,
whatever else the turn says).  Candidates need a containment of at least the
floor and are ranked by the shared mass, not the share: a text with one rare
word (LaTeX-heavy MATH items have few) reaches containment 1.0 in many turns,
and ranking by the share let such texts push the copied item out of the top
few.  The candidates are what the sentence encoder confirms, so it never has
to embed the whole benchmark (docs/decontamination.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from instructkit.decontam.ngram import tokenize

#: A word in more than this share of a benchmark's texts (and more than MIN_COMMON of them) is not content.
MAX_DF = 0.01
MIN_COMMON = 20
#: ... except that every text keeps at least its this-many rarest words (MATH problems such as
#: "Find the midpoint of (-5,5) and (3,7)" have no word in under 1% of MATH).
MIN_WORDS = 4


def _rows(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(row, word hash) once per distinct word of each text."""
    words, offsets, _ = tokenize(texts)
    row = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(offsets))
    pairs = np.unique(np.rec.fromarrays([row, words], names="r,w"))
    return pairs["r"].astype(np.int64), pairs["w"].astype(np.uint64)


@dataclass
class LexicalIndex:
    vocab: np.ndarray  # uint64 content-word hashes, sorted
    matrix: sparse.csr_matrix  # [benchmark texts, vocab] float32 idf**2 weights
    items: np.ndarray  # int32: the item each benchmark text belongs to
    totals: np.ndarray  # float32 per benchmark text: its rare-word mass

    @classmethod
    def build(cls, embed: list[list[str]]) -> LexicalIndex:
        texts = [t for ts in embed for t in ts]
        items = np.repeat(np.arange(len(embed), dtype=np.int32), [len(ts) for ts in embed])
        row, word = _rows(texts)
        vocab, col, df = np.unique(word, return_inverse=True, return_counts=True)
        common = df > max(MAX_DF * len(texts), MIN_COMMON)
        order = np.lexsort((df[col], row))  # each text's words, rarest first
        rank = np.empty(len(row), np.int64)
        rank[order] = np.arange(len(row)) - np.searchsorted(row[order], row[order], side="left")
        keep = ~common[col] | (rank < MIN_WORDS)
        content = np.zeros(len(vocab), bool)
        content[col[keep]] = True
        remap = np.cumsum(content) - 1
        idf = np.log((len(texts) + 1) / (df[content] + 1)) + 1.0
        weight = (idf**2)[remap[col[keep]]]
        m = sparse.csr_matrix(
            (weight.astype(np.float32), (row[keep], remap[col[keep]])),
            shape=(len(texts), int(content.sum())),
        )
        totals = np.asarray(m.sum(axis=1)).ravel().astype(np.float32)
        return cls(vocab[content], m, items, totals)

    def search(
        self, texts: list[str], k: int, floor: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text, benchmark text row, containment) for each text's top-``k`` rows by shared mass
        among those with containment at or above ``floor``."""
        z = np.zeros(0, np.int64)
        if not texts or not len(self.vocab):
            return z, z, np.zeros(0, np.float32)
        row, word = _rows(texts)
        pos = np.minimum(np.searchsorted(self.vocab, word), len(self.vocab) - 1)
        known = self.vocab[pos] == word
        q = sparse.csr_matrix(
            (np.ones(int(known.sum()), np.float32), (row[known], pos[known])),
            shape=(len(texts), len(self.vocab)),
        )
        shared = (q @ self.matrix.T).tocoo()
        r, c, mass = shared.row.astype(np.int64), shared.col.astype(np.int64), shared.data
        share = mass / self.totals[c]
        ok = share >= floor
        r, c, mass, s = r[ok], c[ok], mass[ok], share[ok]
        order = np.lexsort((-s, -mass, r))
        r, c, s = r[order], c[order], s[order]
        rank = np.arange(len(r)) - np.searchsorted(r, r, side="left")
        top = rank < k
        return r[top], c[top], s[top]

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "vocab": self.vocab,
            "data": self.matrix.data,
            "indices": self.matrix.indices,
            "indptr": self.matrix.indptr,
            "shape": np.array(self.matrix.shape),
            "items": self.items,
            "totals": self.totals,
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> LexicalIndex:
        m = sparse.csr_matrix((a["data"], a["indices"], a["indptr"]), shape=tuple(a["shape"]))
        return cls(a["vocab"], m, a["items"], a["totals"])
