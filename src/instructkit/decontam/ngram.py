"""Tier 1: word n-gram overlap against a sorted array of 64-bit n-gram hashes.

The lm-evaluation-harness keeps a Python set of n-gram strings (~100+ bytes
each); here a benchmark n-gram is one uint64 plus the int32 item it came from,
and lookup is ``np.searchsorted``.  Texts are normalised in Arrow (NFKC,
lowercase, punctuation -> space, split on white space), each distinct word is
hashed once, and an n-gram's hash is a polynomial over its word hashes,
computed for every position at once with n vector operations.  No Python
string per n-gram is ever built.

Benchmark texts shorter than n words are matched whole: their hash is the
same polynomial over all their words, mixed with their length, and records are
scanned for m-grams of each such length m.  Unlike the GPT-3 / harness rule
(a short item counts wherever it occurs), such a match counts only when the
short text makes up nearly the whole turn (``SHORT_COVERAGE`` of its words,
so "Answer this: <item>" still counts) and has at least ``MIN_SHORT_WORDS``
words: a one-word MMLU question ("inflation") inside a record is a word, not
a leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

#: Punctuation and symbols become spaces (RE2 syntax, so the work stays in Arrow's C++).
_PUNCT = r"[^\p{L}\p{N}\p{M}\s]+"
_MULT = np.uint64(0x9E3779B97F4A7C15)
#: A main text (e.g. an MMLU question) shorter than n is matched whole only when it has at least
#: this many words: it survives reordered choices, but "Which of the following is true?" must not.
MIN_WHOLE_WORDS = 8
#: Any text matched whole needs this many words: "who are you" or "4 3" convinces nobody.
MIN_SHORT_WORDS = 5
#: A short benchmark text counts only when its item (as shown: question and options) is at least
#: this share of the turn's words.
SHORT_COVERAGE = 0.6
#: Words of a matched span shown as evidence (the hit's evidence is cut to 300 characters anyway).
SPAN_WORDS = 80
#: log2 of the membership filter's size in bits (2**24 bits = 2 MB).
FILTER_BITS = 24


#: Unicode format characters (category Cf): they render as nothing.
INVISIBLE = r"\p{Cf}"


def tokenize(texts: list[str]) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """(word hashes, offsets into them per text, the words): normalised as the module docstring says."""
    arr = pa.array(texts, pa.large_string())
    # Invisible format characters (zero-width space, joiners, soft hyphen) go first: strewn between
    # the letters of a benchmark question they would otherwise hide it from every n-gram (probe D26).
    arr = pc.replace_substring_regex(arr, INVISIBLE, "")
    arr = pc.utf8_lower(pc.utf8_normalize(arr, "NFKC"))
    arr = pc.replace_substring_regex(arr, _PUNCT, " ")
    lists = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(arr))
    offsets = lists.offsets.to_numpy().astype(np.int64)
    flat = lists.flatten()
    if len(flat) == 0:
        return np.zeros(0, np.uint64), offsets, flat
    enc = (
        pc.dictionary_encode(flat).combine_chunks()
        if isinstance(flat, pa.ChunkedArray)
        else pc.dictionary_encode(flat)
    )
    vocab = enc.dictionary.to_pylist()
    word_hash = np.fromiter(
        (xxhash.xxh3_64_intdigest(w.encode()) for w in vocab), np.uint64, len(vocab)
    )
    return word_hash[enc.indices.to_numpy()], offsets, flat


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the polynomial's bits so sorted hashes are uniform."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def grams(
    words: np.ndarray, offsets: np.ndarray, sizes: Iterable[int]
) -> dict[int, tuple[np.ndarray, ...]]:
    """For each m in ``sizes``, the hashes of every m-gram inside one text, with its text and start word.

    The polynomial of an (m+1)-gram is the m-gram's times the multiplier plus the
    next word, so all sizes up to the largest cost one vector operation each.
    """
    wanted = set(sizes)
    lengths = np.diff(offsets)
    owner = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    start = (np.arange(len(words)) - offsets[owner]).astype(np.int32)
    remaining = lengths[owner] - start  # words from this position to the end of its text
    out: dict[int, tuple[np.ndarray, ...]] = {}
    acc = words.copy()
    with np.errstate(over="ignore"):
        for m in range(1, max(wanted, default=0) + 1):
            if m > 1:
                acc = acc[:-1] * _MULT + words[m - 1 :]
            if m in wanted:
                ok = np.flatnonzero(remaining[: len(acc)] >= m)
                out[m] = (_mix(acc[ok] ^ np.uint64(m)), owner[ok], start[ok])
    return out


def _distinct(hashes: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (hash, item) pairs, sorted by hash."""
    order = np.lexsort((items, hashes))
    hashes, items = hashes[order], items[order]
    first = np.ones(len(hashes), bool)
    first[1:] = (hashes[1:] != hashes[:-1]) | (items[1:] != items[:-1])
    return hashes[first], items[first]


@dataclass
class NgramIndex:
    """Sorted benchmark n-gram hashes with the item each came from, and each item's n-gram count."""

    n: int
    hashes: np.ndarray  # uint64, sorted
    items: np.ndarray  # uint16 (int32 past 65,535 items), parallel to hashes
    counts: np.ndarray  # int32 per item: distinct n-grams (the overlap ratio's denominator)
    short: np.ndarray  # int32: the lengths < n of texts matched whole
    words: np.ndarray  # int32 per item: words of its longest indexed form (short-match coverage)
    bits: np.ndarray = field(init=False, repr=False)  # membership filter: one bit per hash prefix

    def __post_init__(self) -> None:
        # Most record n-grams are in no benchmark: a one-bit-per-prefix filter (2 MB, a few % false
        # positives at a million n-grams) rejects them with one gather, so only candidates are searched.
        slot = self.hashes >> np.uint64(64 - FILTER_BITS)
        self.bits = np.zeros(1 << (FILTER_BITS - 3), np.uint8)
        np.bitwise_or.at(
            self.bits, slot >> np.uint64(3), np.left_shift(1, slot & np.uint64(7)).astype(np.uint8)
        )

    @property
    def nbytes(self) -> int:
        return (
            self.hashes.nbytes
            + self.items.nbytes
            + self.counts.nbytes
            + self.short.nbytes
            + self.words.nbytes
            + self.bits.nbytes
        )

    def candidates(self, h: np.ndarray) -> np.ndarray:
        """Positions in ``h`` that may be in the index (no false negatives)."""
        slot = h >> np.uint64(64 - FILTER_BITS)
        return np.flatnonzero(
            (self.bits[slot >> np.uint64(3)] >> (slot & np.uint64(7)).astype(np.uint8)) & 1
        )

    @classmethod
    def build(cls, fields: list[list[str]], n: int = 13) -> NgramIndex:
        """Index each item's text as stored (fields joined) and, for items with options, as usually
        shown ("Q A. x B. y": labels become words after normalisation); short texts whole."""
        multi = [k for k, f in enumerate(fields) if len(f) > 1]
        labelled = [
            f"{fields[k][0]}\n"
            + "\n".join(f"{chr(65 + j % 26)}. {o}" for j, o in enumerate(fields[k][1:]))
            for k in multi
        ]
        docs = ["\n".join(f) for f in fields] + labelled + [fields[k][0] for k in multi]
        owner_doc = np.concatenate([np.arange(len(fields)), multi, multi]).astype(np.int32)
        kind = np.repeat(
            [0, 1, 2], [len(fields), len(multi), len(multi)]
        )  # as stored, labelled, main field
        words, offsets, _ = tokenize(docs)
        lengths = np.diff(offsets)
        whole = (
            (lengths < n)
            & (lengths >= MIN_SHORT_WORDS)
            & ((kind < 2) | (lengths >= MIN_WHOLE_WORDS))
        )
        short = np.unique(lengths[whole]).astype(np.int32)
        end = offsets[len(fields) + len(multi)]  # full texts (kinds 0 and 1) come first
        h, t, _ = grams(words[:end], offsets[: len(fields) + len(multi) + 1], [n])[n]
        parts = [(h, owner_doc[t], kind[t])]
        # Short texts (and short main fields) are hashed whole: only their words are scanned.
        docs_whole = np.flatnonzero(whole)
        sub_offsets = np.concatenate([[0], np.cumsum(lengths[whole])])
        for m, (h, t, start) in grams(
            words[np.repeat(whole, lengths)], sub_offsets, short.tolist()
        ).items():
            d = docs_whole[t[(start == 0) & (lengths[docs_whole[t]] == m)]]
            parts.append((h[(start == 0) & (lengths[docs_whole[t]] == m)], owner_doc[d], kind[d]))
        hashes, items, kinds = (np.concatenate(c) for c in zip(*parts))
        # The overlap ratio's denominator: distinct n-grams of the text as stored.
        counts = np.bincount(
            _distinct(hashes[kinds == 0], items[kinds == 0])[1], minlength=len(fields)
        )
        hashes, items = _distinct(hashes, items)
        item_words = np.zeros(len(fields), np.int32)
        np.maximum.at(item_words, owner_doc[kind < 2], lengths[kind < 2].astype(np.int32))
        return cls(
            n,
            hashes,
            items.astype(np.uint16 if len(fields) < 1 << 16 else np.int32),
            counts.astype(np.int32),
            short,
            item_words,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "n": np.array([self.n]),
            "hashes": self.hashes,
            "items": self.items,
            "counts": self.counts,
            "short": self.short,
            "words": self.words,
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> NgramIndex:
        return cls(int(a["n"][0]), a["hashes"], a["items"], a["counts"], a["short"], a["words"])


@dataclass
class TextGrams:
    """The m-grams of the texts to check, per size m, hashed once for every index."""

    by_size: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]  # m -> (hashes, text, start word)
    words: pa.Array
    offsets: np.ndarray

    @classmethod
    def of(cls, texts: list[str], sizes: set[int]) -> TextGrams:
        words, offsets, flat = tokenize(texts)
        return cls(grams(words, offsets, sizes), flat, offsets)

    def span(self, text: int, start: int, size: int) -> str:
        """The matched words, for the evidence: normalised text, as it was compared."""
        base = int(self.offsets[text]) + start
        return " ".join(self.words.slice(base, min(size, SPAN_WORDS)).to_pylist())


@dataclass
class Matches:
    """One row per (text, benchmark item) that share n-grams: the overlap ratio and the matched span
    (from the first matching word to the end of the last match, so the evidence shows all of it)."""

    texts: np.ndarray
    items: np.ndarray
    ratios: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray


def match(index: NgramIndex, tg: TextGrams) -> Matches:
    """Look every gram up in the sorted index; count distinct shared grams per (text, item)."""
    rows: list[tuple[np.ndarray, ...]] = []
    turn_words = np.diff(tg.offsets)
    for m in [index.n, *index.short.tolist()]:
        if m not in tg.by_size:
            continue
        h, text, start = tg.by_size[m]
        maybe = index.candidates(h)
        # Sorted keys make searchsorted walk the index once (cache-friendly) instead of jumping at random.
        maybe = maybe[np.argsort(h[maybe])]
        h, text, start = h[maybe], text[maybe], start[maybe]
        lo = np.searchsorted(index.hashes, h, "left")
        hi = np.searchsorted(index.hashes, h, "right")
        hit = np.flatnonzero(hi > lo)
        if not len(hit):
            continue
        width = (hi - lo)[hit]
        gram = np.repeat(hit, width)  # one row per (gram, item) pair
        pos = np.repeat(lo[hit] - np.cumsum(width) + width, width) + np.arange(width.sum())
        if m < index.n:  # a short text counts only as (nearly) the whole turn, never as a substring
            whole = turn_words[text[gram]] * SHORT_COVERAGE <= index.words[index.items[pos]]
            gram, pos = gram[whole], pos[whole]
        rows.append(
            (
                text[gram].astype(np.int64),
                index.items[pos].astype(np.int64),
                h[gram],
                start[gram],
                np.full(len(gram), m, np.int64),
            )
        )
    if not rows:
        z = np.zeros(0, np.int64)
        return Matches(z, z, np.zeros(0), z, z)
    text, item, h, start, size = (np.concatenate(c) for c in zip(*rows))
    # Distinct grams per (text, item): a repeated n-gram in the record counts once.
    key = np.unique(np.rec.fromarrays([text, item, h], names="t,i,h"), return_index=True)[1]
    text, item, start, size = text[key], item[key], start[key], size[key]
    order = np.lexsort((start, item, text))  # per (text, item), the earliest matching span first
    text, item, start, size = text[order], item[order], start[order], size[order]
    first = np.ones(len(text), bool)
    first[1:] = (text[1:] != text[:-1]) | (item[1:] != item[:-1])
    heads = np.flatnonzero(first)
    n_shared = np.diff(np.append(heads, len(text)))
    ratio = np.minimum(
        n_shared / np.maximum(index.counts[item[first]], 1), 1.0
    )  # labelled form may add some
    end = np.maximum.reduceat(start + size, heads)
    return Matches(
        text[first], item[first], ratio, start[first].astype(np.int64), end - start[first]
    )
