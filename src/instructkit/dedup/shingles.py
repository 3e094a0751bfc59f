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

SEED = np.uint64(0x243F6A8885A308D3)

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
    """(hash per word, word count per text) for normalised texts (single spaces, no edge spaces).

    Texts are joined by newlines (normalised text has none), so the word count
    per text comes from the byte buffer instead of a Python loop over texts.
    """
    joined = "\n".join(texts)
    if joined.count("\n") != max(
        len(texts) - 1, 0
    ):  # a text with a newline: not normalised, split by spaces only
        counts = np.fromiter((t.count(" ") + 1 if t else 0 for t in texts), np.int64, len(texts))
        joined = " ".join(t for t in texts if t)
        data = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        seps = np.flatnonzero(data == 32)
        keep = None
    else:
        data = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        seps = np.flatnonzero((data == 32) | (data == 10))
        newline = data[seps] == 10
        text = np.zeros(len(seps) + 1, np.int64)  # text of each word: newlines before its start
        np.cumsum(newline, out=text[1:])
        # an empty text is one empty "word" between two newlines (or the buffer's ends): not a word
        left = np.r_[True, newline]
        right = np.r_[newline, True]
        length = np.diff(np.r_[-1, seps, len(data)]) - 1
        keep = ~(left & right & (length == 0))
        counts = np.bincount(text[keep], minlength=len(texts)).astype(np.int64)
    n = len(data)
    if not n or not counts.any():
        return np.zeros(0, dtype=np.uint64), counts
    weighted = data.astype(np.uint64)
    weighted += np.uint64(1)  # so a zero byte still counts
    np.multiply(weighted, _pow_table(_P, n), out=weighted)
    prefix = np.empty(n + 1, dtype=np.uint64)
    prefix[0] = 0
    np.cumsum(weighted, out=prefix[1:])
    del weighted
    starts = np.concatenate(([0], seps + 1))
    ends = np.concatenate((seps, [n]))
    if keep is not None:
        starts, ends = starts[keep], ends[keep]
    words = (prefix[ends] - prefix[starts]) * _pow_table(_P_INV, n + 1)[starts]
    words += (ends - starts).astype(np.uint64)  # length tag: keeps "a" and "a\0"-like tails apart
    return fmix64(words), counts


def _fold(words: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Word hashes -> n-gram shingle hashes per text (a text with 1..n-1 words is one shingle).

    Every word position starts a window of ``n`` words over the whole chunk
    (contiguous slices, no gathers); windows that run past their text's end are
    then dropped, and a short text's first position gets the fold of its own words.
    """
    per_text = np.where(counts >= n, counts - n + 1, (counts > 0).astype(np.int64))
    total = len(words)
    if not total:
        return np.zeros(0, dtype=np.uint64), per_text
    padded = np.concatenate((words, np.zeros(n - 1, dtype=np.uint64)))
    h = np.full(total, SEED, dtype=np.uint64)
    for k in range(n):
        h ^= padded[k : k + total]
        h *= FOLD
    word_start = np.cumsum(counts) - counts
    valid = np.ones(total, dtype=bool)
    end = (word_start + counts)[counts >= n]
    for k in range(1, n):
        valid[end - k] = False
    short = np.flatnonzero((counts > 0) & (counts < n))
    if len(short):
        first, width = word_start[short], counts[short]
        hs = np.full(len(short), SEED, dtype=np.uint64)
        for k in range(n - 1):
            step = (hs ^ words[np.minimum(first + k, total - 1)]) * FOLD
            hs = np.where(k < width, step, hs)
            if k:
                valid[(first + k)[k < width]] = False
        h[first] = hs
    return fmix64(h[valid]), per_text


def shingle(texts: list[str], n: int) -> Shingles:
    """Hash the word ``n``-grams of already-normalised texts, chunked by bytes to bound memory."""
    if n < 1:
        raise ValueError("n-gram size must be >= 1")
    parts: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    ends = np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)) + 1)
    i = 0
    while i < len(texts):
        # texts up to CHUNK_BYTES characters from here, at least one
        j = max(int(np.searchsorted(ends, (ends[i - 1] if i else 0) + CHUNK_BYTES)), i + 1)
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
