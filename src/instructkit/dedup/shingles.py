"""Word n-gram shingles hashed to uint64 in vectorised NumPy, with no Python string per word or shingle.

Texts are normalised (:func:`instructkit.text.normalize`: NFKC, casefold,
punctuation -> space, one space between words) and joined by newlines into one
UTF-8 byte buffer per chunk.  Every word is hashed 8 bytes at a time from a
stride-1 uint64 view of the buffer (one gather per word, masked to its length,
more rounds only for longer words), so the work is per word, not per byte.  A
shingle folds ``n`` consecutive word hashes with a multiply-xor and a splitmix64
finaliser, over contiguous slices of the chunk's word array.  A text shorter
than ``n`` words is one shingle of all its words, so short instructions still
have a set to compare.

The result is CSR-like: one flat ``uint64`` array of shingle hashes and
``offsets`` (record ``r`` owns ``hashes[offsets[r]:offsets[r+1]]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FOLD = np.uint64(0x9E3779B97F4A7C15)
SEED = np.uint64(0x243F6A8885A308D3)
#: Characters per chunk: the per-word temporaries stay cache-sized.
CHUNK_BYTES = 1 << 18
#: ``_MASK[k]`` keeps the low ``k`` bytes of a uint64 (k = 0..8).
_MASK = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


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
    starts = np.concatenate(([0], seps + 1))
    ends = np.concatenate((seps, [n]))
    if keep is not None:
        starts, ends = starts[keep], ends[keep]
    return _hash_words(data, starts, ends - starts), counts


def _hash_words(data: np.ndarray, starts: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Hash of each word ``data[start:start + length]``, 8 bytes at a time.

    The buffer is read as little-endian uint64 at every byte offset (a stride-1
    view, no copy), so a word's first 8 bytes are one gather, masked to its
    length; only longer words take further rounds.  Per word, not per byte:
    measured ~3x faster than a polynomial prefix sum over the bytes.  Words of
    up to 8 bytes map injectively before the (bijective) finaliser, so they
    never collide; the length is mixed in, so a zero byte still counts.
    """
    padded = np.zeros(len(data) + 16, dtype=np.uint8)
    padded[: len(data)] = data
    view = np.ndarray((len(data) + 8,), dtype="<u8", buffer=padded, strides=(1,))
    h = view[starts] & _MASK[np.minimum(length, 8)]
    h ^= length.astype(np.uint64) * FOLD
    more = np.flatnonzero(length > 8)
    k = 8
    while len(more):
        rest = length[more] - k
        block = view[starts[more] + k] & _MASK[np.minimum(rest, 8)]
        h[more] = (fmix64(h[more]) ^ block) * FOLD
        more = more[rest > 8]
        k += 8
    return fmix64(h)


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
