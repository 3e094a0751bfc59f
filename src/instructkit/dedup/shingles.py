"""Word n-gram shingles hashed to uint64 in vectorised NumPy, with no Python string per word or shingle.

Texts are normalised (:func:`instructkit.text.normalize`: NFKC, casefold,
punctuation -> space, one space between words), joined into one UTF-8 byte
buffer, and every word gets a polynomial hash from a prefix sum over the bytes:
``H[j] = sum_{i<j} (c_i + 1) * P**i  (mod 2**64)``, so the word spanning
``[s, e)`` hashes to ``(H[e] - H[s]) * P**-s`` (P is odd, hence invertible mod
2**64).  A shingle folds ``n`` consecutive word hashes with a multiply-xor and a
splitmix64 finaliser.  A text shorter than ``n`` words is one shingle of all its
words, so short instructions still have a set to compare.

The result is CSR-like: one flat ``uint64`` array of shingle hashes and
``offsets`` (record ``r`` owns ``hashes[offsets[r]:offsets[r+1]]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_P = 0x100000001B3  # FNV-64 prime: odd, so invertible modulo 2**64
_P_INV = pow(_P, -1, 2**64)
FOLD = np.uint64(0x9E3779B97F4A7C15)
#: Bytes per chunk: the prefix-sum temporaries (~5 uint64 arrays of this length) stay cache-sized.
CHUNK_BYTES = 1 << 18

_powers: dict[int, np.ndarray] = {}


def _pow_table(base: int, n: int) -> np.ndarray:
    """``base**i mod 2**64`` for i < n, cached and grown on demand (uint64 cumprod wraps, as wanted)."""
    table = _powers.get(base)
    if table is None or len(table) < n:
        steps = np.full(max(n, 2 * CHUNK_BYTES), base, dtype=np.uint64)
        steps[0] = 1
        table = np.cumprod(steps, dtype=np.uint64)
        _powers[base] = table
    return table[:n]


def fmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the output (in place on a copy)."""
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@dataclass
class Shingles:
    hashes: np.ndarray  # uint64, all records' shingles in record order
    offsets: np.ndarray  # int64, len = records + 1

    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def unique_sets(self, records: np.ndarray) -> Shingles:
        """The de-duplicated, sorted shingle set of each of ``records`` (for exact Jaccard)."""
        starts, ends = self.offsets[records], self.offsets[records + 1]
        lens = ends - starts
        owner = np.repeat(np.arange(len(records)), lens)
        pos = (
            np.arange(lens.sum())
            - np.repeat(np.cumsum(lens) - lens, lens)
            + np.repeat(starts, lens)
        )
        h = self.hashes[pos]
        order = np.lexsort((h, owner))
        h, owner = h[order], owner[order]
        first = np.ones(len(h), dtype=bool)
        first[1:] = (h[1:] != h[:-1]) | (owner[1:] != owner[:-1])
        h, owner = h[first], owner[first]
        offsets = np.zeros(len(records) + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner, minlength=len(records)), out=offsets[1:])
        return Shingles(h, offsets)


def _word_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(hash per word, word count per text) for normalised texts (single spaces, no edge spaces)."""
    counts = np.fromiter(
        (t.count(" ") + 1 if t else 0 for t in texts), dtype=np.int64, count=len(texts)
    )
    joined = " ".join(t for t in texts if t).encode("utf-8", "surrogatepass")
    if not joined:
        return np.zeros(0, dtype=np.uint64), counts
    data = np.frombuffer(joined, dtype=np.uint8)
    n = len(data)
    weighted = (data.astype(np.uint64) + np.uint64(1)) * _pow_table(_P, n)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(weighted, out=prefix[1:])
    del weighted
    spaces = np.flatnonzero(data == 32)
    starts = np.concatenate(([0], spaces + 1))
    ends = np.concatenate((spaces, [n]))
    words = (prefix[ends] - prefix[starts]) * _pow_table(_P_INV, n)[starts]
    words += (ends - starts).astype(np.uint64)  # length tag: keeps "a" and "a\0"-like tails apart
    return fmix64(words), counts


def _fold(words: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Word hashes -> n-gram shingle hashes per text (a text with 1..n-1 words is one shingle)."""
    per_text = np.where(counts >= n, counts - n + 1, (counts > 0).astype(np.int64))
    word_start = np.cumsum(counts) - counts
    total = int(per_text.sum())
    owner = np.repeat(np.arange(len(counts)), per_text)
    local = np.arange(total) - np.repeat(np.cumsum(per_text) - per_text, per_text)
    start = word_start[owner] + local
    width = np.minimum(counts[owner], n)
    h = np.full(total, 0x243F6A8885A308D3, dtype=np.uint64)
    last = max(len(words) - 1, 0)
    for k in range(n):
        w = words[np.minimum(start + k, last)] if len(words) else np.zeros(total, np.uint64)
        step = (h ^ w) * FOLD
        h = np.where(k < width, step, h)
    return fmix64(h), per_text


def shingle(texts: list[str], n: int) -> Shingles:
    """Hash the word ``n``-grams of already-normalised texts, chunked by bytes to bound memory."""
    if n < 1:
        raise ValueError("n-gram size must be >= 1")
    parts: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    i = 0
    while i < len(texts):
        size, j = 0, i
        while j < len(texts) and (j == i or size + len(texts[j]) < CHUNK_BYTES):
            size += len(texts[j]) + 1
            j += 1
        words, wcounts = _word_hashes(texts[i:j])
        h, per_text = _fold(words, wcounts, n)
        parts.append(h)
        counts.append(per_text)
        i = j
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=offsets[1:])
    hashes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
    return Shingles(hashes, offsets)
