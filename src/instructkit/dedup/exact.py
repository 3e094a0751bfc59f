"""Exact duplicates after normalisation: equal 128-bit hashes of :func:`instructkit.text.normalize`d text.

Normalisation (NFKC, casefold, punctuation -> space, collapsed white space) is
documented in :mod:`instructkit.text`; it makes "Hello, World!" and "hello world"
one text.  A hash per record is the only Python-level work, so a million records
take seconds and the memory is one small integer per distinct text.
"""

from __future__ import annotations

import numpy as np
import xxhash


def exact_pairs(normalized: list[str]) -> np.ndarray:
    """``[m, 2]`` pairs (first seen, later copy) of records whose normalised texts are equal; empty texts never match."""
    first: dict[int, int] = {}
    left: list[int] = []
    right: list[int] = []
    for i, text in enumerate(normalized):
        if not text:
            continue
        j = first.setdefault(xxhash.xxh3_128_intdigest(text.encode("utf-8", "surrogatepass")), i)
        if j != i:
            left.append(j)
            right.append(i)
    return np.array([left, right], dtype=np.int64).T.reshape(-1, 2)
