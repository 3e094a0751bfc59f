"""The prefix filter's approximate-frequency order, packed sorts and chunked candidates, against brute force."""

from __future__ import annotations

import random

import numpy as np
import pytest

from instructkit.dedup import prefix
from instructkit.dedup.near import near_pairs
from instructkit.dedup.shingles import Shingles, shingle
from instructkit.text import normalize


def corpus(seed: int, size: int, vocab: int = 400) -> list[str]:
    """Base texts plus copies edited at a spread of rates, so Jaccards straddle any threshold."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]
    base = [" ".join(rng.choices(words, k=rng.randint(6, 70))) for _ in range(size)]
    out = list(base)
    for text in base:
        w = text.split()
        for i in rng.sample(range(len(w)), max(1, int(rng.uniform(0.0, 0.2) * len(w)))):
            w[i] = rng.choice(words)
        out.append(" ".join(w))
    return [normalize(t) for t in out]


def brute_force(sets: prefix.Sets, threshold: float) -> set[tuple[int, int]]:
    n = len(sets.sizes())
    every = np.array([(i, j) for i in range(n) for j in range(i + 1, n)], dtype=np.int64)
    return {tuple(p) for p in every[prefix.jaccard(sets, every) >= threshold].tolist()}


def test_lex_order_matches_lexsort_even_when_packed_key_bits_tie() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    major = np.sort(rng.integers(0, 300, n))  # grouped, ascending
    first = np.searchsorted(major, major)  # index of each group's first element
    at = np.arange(n, dtype=np.int64)
    # keys that differ only in their low bits, so the packed high bits tie and the fix-up must order them
    key = (rng.integers(0, 4, n) << 40) | rng.integers(0, 1 << 20, n)
    assert np.array_equal(prefix.lex_order(key, major, first), np.lexsort((at, key, major)))
    assert np.array_equal(prefix.lex_order(key), np.lexsort((at, key)))
    wide = rng.integers(0, 2**prefix.KEY_BITS, n)  # the common case: distinct high bits
    assert np.array_equal(prefix.lex_order(wide, major, first), np.lexsort((at, wide, major)))


def test_order_keys_are_one_per_shingle_and_rank_rare_buckets_first() -> None:
    rng = np.random.default_rng(5)
    distinct = rng.integers(0, 2**63, 3000, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    hashes = np.concatenate((distinct, np.tile(distinct[:10], 50)))  # ten frequent shingles
    counts = prefix.bucket_counts(hashes, 12)
    keys = prefix.order_keys(hashes, counts)
    assert keys.min() >= 0 and keys.max() < 2**prefix.KEY_BITS
    assert len(np.unique(keys[:3000])) == 3000  # distinct shingles keep distinct keys
    assert np.array_equal(prefix.order_keys(distinct[:10], counts), keys[3000:3010])
    # a shingle whose bucket was seen less often comes first
    c = counts[(distinct & np.uint64(2**12 - 1)).astype(np.int64)]
    a, b = rng.integers(0, 3000, (2, 20000))
    rarer = c[a] < c[b]
    assert rarer.sum() > 1000 and np.all(keys[a[rarer]] < keys[b[rarer]])
    with pytest.raises(ValueError):
        prefix.order_keys(hashes, counts[:1000])


def test_ranked_sets_are_each_records_distinct_shingles_sorted_by_key() -> None:
    norm = corpus(1, 40) + [
        "",
        "one",
        "a a a a a a a",
    ]  # repeats inside a record, empty and short texts
    sh = shingle(norm, 3)
    sets = prefix.ranked_sets(sh)
    counts = prefix.bucket_counts(sh.hashes, prefix.bucket_bits(len(sh.hashes)))
    for r in range(len(norm)):
        own = sh.hashes[sh.offsets[r] : sh.offsets[r + 1]]
        want = np.unique(prefix.order_keys(np.unique(own), counts))
        assert np.array_equal(sets.ranks[sets.offsets[r] : sets.offsets[r + 1]], want)


def test_shards_ranked_with_shared_counts_get_the_same_keys() -> None:
    norm = corpus(2, 60)
    whole = shingle(norm, 3)
    counts = prefix.bucket_counts(whole.hashes, 14)
    halves = [shingle(norm[:50], 3), shingle(norm[50:], 3)]
    assert np.array_equal(sum(prefix.bucket_counts(h.hashes, 14) for h in halves), counts)
    joined = np.concatenate([prefix.ranked_sets(h, counts).ranks for h in halves])
    assert np.array_equal(joined, prefix.ranked_sets(whole, counts).ranks)


@pytest.mark.parametrize("bits", [10, 14, 18])
@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.9])
def test_any_bucket_order_misses_no_pair_at_or_above_the_threshold(
    bits: int, threshold: float
) -> None:
    norm = corpus(4, 90)
    sh = shingle(norm, 3)
    sets = prefix.ranked_sets(sh, prefix.bucket_counts(sh.hashes, bits))
    truth = brute_force(sets, threshold)
    assert len(truth) >= 4
    cand, stats = prefix.candidate_pairs(sets, threshold, max_group=10**6)  # no capped group
    assert stats["capped_groups"] == 0
    assert truth <= {tuple(p) for p in cand.tolist()}
    assert len(cand) == len({tuple(p) for p in cand.tolist()})


def test_small_chunks_give_the_same_pairs_as_one_chunk() -> None:
    norm = corpus(6, 120)
    sets = prefix.ranked_sets(shingle(norm, 3))
    whole, stats = prefix.candidate_pairs(sets, 0.7)
    assert len(whole) > 100
    chunked, _ = prefix.candidate_pairs(sets, 0.7, chunk_links=30)  # many chunks and compactions
    assert np.array_equal(chunked, whole)
    assert np.array_equal(whole, np.unique(whole, axis=0))  # unique and sorted


def test_jaccard_on_a_hand_made_example() -> None:
    sh = Shingles(
        np.array([1, 2, 3, 4, 2, 3, 4, 5, 9], np.uint64), np.array([0, 4, 8, 9], np.int64)
    )
    sets = prefix.ranked_sets(sh)
    assert sets.sizes().tolist() == [4, 4, 1]
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    assert prefix.jaccard(sets, pairs).tolist() == [pytest.approx(3 / 5), 0.0, 0.0]


def test_near_pairs_equal_brute_force_and_report_counts() -> None:
    norm = corpus(9, 100)
    sets = prefix.ranked_sets(shingle(norm, 3))
    result = near_pairs(norm, threshold=0.8)
    assert {tuple(p) for p in result.pairs.tolist()} == brute_force(sets, 0.8)
    s = result.stats
    assert s["verified"] == len(result.pairs) <= s["candidates"]
    assert s["capped_groups"] == 0 and s["prefix_shingles"] > 0


def test_jaccard_is_the_same_in_small_blocks() -> None:
    norm = corpus(10, 80)
    sets = prefix.ranked_sets(shingle(norm, 3))
    pairs = np.array([(i, j) for i in range(40) for j in range(i + 1, len(norm))], dtype=np.int64)
    assert np.array_equal(prefix.jaccard(sets, pairs, block=50), prefix.jaccard(sets, pairs))
