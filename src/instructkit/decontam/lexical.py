"""Rare-word containment: which benchmark items a turn could be a copy or rephrasing of, in milliseconds.

A rephrased benchmark item keeps its numbers, names and technical terms while
its common words change.  Each benchmark text is a sparse row over its
*content* words (words in at most ``MAX_DF`` of the benchmark's texts; the
rest are too common to say anything and would make the product dense),
weighted by ``idf**2`` and normalised to sum 1.  A turn's score against an
item is then the share of the item's rare-word mass that the turn contains:
1.0 when every content word of the item is in the turn, whatever else the
turn says.  One sparse matrix product (SciPy) scores every turn against every
item; the top few per turn are the candidates the sentence encoder confirms,
so the encoder never has to embed the whole benchmark (docs/decontamination.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from instructkit.decontam.ngram import tokenize

#: A word in more than this share of a benchmark's texts (and more than MIN_COMMON of them) is not content.
MAX_DF = 0.01
MIN_COMMON = 20


def _rows(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(row, word hash) once per distinct word of each text."""
    words, offsets, _ = tokenize(texts)
    row = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(offsets))
    pairs = np.unique(np.rec.fromarrays([row, words], names="r,w"))
    return pairs["r"].astype(np.int64), pairs["w"].astype(np.uint64)


@dataclass
class LexicalIndex:
    vocab: np.ndarray  # uint64 content-word hashes, sorted
    matrix: sparse.csr_matrix  # [benchmark texts, vocab] float32, rows sum to 1
    items: np.ndarray  # int32: the item each benchmark text belongs to

    @classmethod
    def build(cls, embed: list[list[str]]) -> LexicalIndex:
        texts = [t for ts in embed for t in ts]
        items = np.repeat(np.arange(len(embed), dtype=np.int32), [len(ts) for ts in embed])
        row, word = _rows(texts)
        vocab, col, df = np.unique(word, return_inverse=True, return_counts=True)
        content = df <= max(MAX_DF * len(texts), MIN_COMMON)
        keep = content[col]
        remap = np.cumsum(content) - 1
        idf = np.log((len(texts) + 1) / (df[content] + 1)) + 1.0
        weight = (idf**2)[remap[col[keep]]]
        m = sparse.csr_matrix(
            (weight.astype(np.float32), (row[keep], remap[col[keep]])),
            shape=(len(texts), int(content.sum())),
        )
        total = np.asarray(m.sum(axis=1)).ravel()
        m = sparse.diags(np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)) @ m
        return cls(vocab[content], m.tocsr().astype(np.float32), items)

    def search(
        self, texts: list[str], k: int, floor: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(text, benchmark text row, containment) for each text's top-``k`` rows at or above ``floor``."""
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
        scores = (q @ self.matrix.T).tocoo()
        ok = scores.data >= floor
        r, c, s = scores.row[ok].astype(np.int64), scores.col[ok].astype(np.int64), scores.data[ok]
        order = np.lexsort((-s, r))
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
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> LexicalIndex:
        m = sparse.csr_matrix((a["data"], a["indices"], a["indptr"]), shape=tuple(a["shape"]))
        return cls(a["vocab"], m, a["items"])
