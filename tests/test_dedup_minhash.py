"""Shingling, MinHash signatures, LSH banding and verification against plain-Python ground truth."""

from __future__ import annotations

import random

import numpy as np
import pytest

from instructkit.dedup import minhash, prefix, shingles
from instructkit.dedup.near import near_pairs
from instructkit.dedup.shingles import shingle
from instructkit.text import normalize


def ngram_set(text: str, n: int) -> set[tuple[str, ...]]:
    w = normalize(text).split()
    if 0 < len(w) < n:
        return {tuple(w)}
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def jaccard(a: str, b: str, n: int) -> float:
    x, y = ngram_set(a, n), ngram_set(b, n)
    return len(x & y) / len(x | y)


def corpus(seed: int = 0, size: int = 300) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(3000)]
    return [" ".join(rng.choices(vocab, k=rng.randint(5, 80))) for _ in range(size)]


def mutate(text: str, share: float, rng: random.Random) -> str:
    w = text.split()
    for i in rng.sample(range(len(w)), max(1, int(share * len(w)))):
        w[i] = f"x{rng.randint(0, 10**6)}"
    return " ".join(w)


def test_shingle_counts_short_and_empty_texts() -> None:
    sh = shingle(["a b c d", "a b", "", "x"], 3)
    assert sh.counts().tolist() == [
        2,
        1,
        0,
        1,
    ]  # 4 words -> 2 trigrams; 2 words -> one whole-text shingle


def test_shingle_hash_depends_on_words_not_position() -> None:
    sh = shingle(["the cat sat on", "a dog and the cat sat", "the cat sits"], 3)
    h = [set(sh.hashes[sh.offsets[i] : sh.offsets[i + 1]].tolist()) for i in range(3)]
    assert len(h[0] & h[1]) == 1  # "the cat sat" only
    assert not h[0] & h[2]
    assert len(set(shingle(["ab c", "a bc", "abc"], 1).hashes.tolist())) == 5  # ab, c, a, bc, abc


def test_shingles_do_not_depend_on_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [normalize(t) for t in corpus(1)]
    whole = shingle(texts, 3)
    monkeypatch.setattr(shingles, "CHUNK_BYTES", 200)
    parts = shingle(texts, 3)
    assert np.array_equal(whole.hashes, parts.hashes) and np.array_equal(
        whole.offsets, parts.offsets
    )


def test_word_hashes_tell_long_and_odd_words_apart() -> None:
    words = ["a", "a\0", "\0a", "abcdefgh", "abcdefghi", "abcdefgh\0", "x" * 16, "x" * 17]
    words += [
        "abcdefghij" * 3,
        "abcdefghij" * 3 + "k",
        "abcdefghij" * 2 + "abcdefghiX",
        "ü" * 5,
        "中文字",
    ]
    sh = shingle([" ".join(words)], 1)
    assert len(set(sh.hashes.tolist())) == len(words)
    again = shingle(["zz " + " ".join(reversed(words))], 1)  # same word, other offset: same hash
    assert set(again.hashes.tolist()) - set(sh.hashes.tolist()) == set(
        shingle(["zz"], 1).hashes.tolist()
    )


def test_texts_that_are_not_normalised_are_still_split_per_text() -> None:
    texts = ["a b\nc d", "e  f", " g", "", "h i j"]  # a newline, double and leading spaces
    whole = shingle(texts, 2)
    one_by_one = [shingle([t], 2) for t in texts]
    assert whole.counts().tolist() == [len(s.hashes) for s in one_by_one]
    assert np.array_equal(whole.hashes, np.concatenate([s.hashes for s in one_by_one]))


def test_signatures_do_not_depend_on_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    sh = shingle([normalize(t) for t in corpus(2)], 3)
    perms = minhash.Permutations.make(64)
    big = minhash.signatures(sh, perms)
    monkeypatch.setattr(minhash, "CHUNK_CELLS", 300)
    assert np.array_equal(big, minhash.signatures(sh, perms))


def test_signature_matches_direct_permutation_minimum() -> None:
    sh = shingle(["one two three four five six"], 2)
    perms = minhash.Permutations.make(16)
    p = (1 << 31) - 1
    x = [(int(h) >> 33) % p for h in sh.hashes]
    want = [min((int(a) * v + int(b)) % p for v in x) for a, b in zip(perms.a, perms.b)]
    assert minhash.signatures(sh, perms)[0].tolist() == want


def test_estimated_and_exact_jaccard_track_the_truth() -> None:
    rng = random.Random(3)
    base = [t for t in corpus(3, 200) if len(t.split()) > 30]
    texts, truth = [], []
    for t in base:
        other = mutate(t, rng.uniform(0.02, 0.3), rng)
        texts += [t, other]
        truth.append(jaccard(t, other, 3))
    sh = shingle([normalize(t) for t in texts], 3)
    sig = minhash.signatures(sh, minhash.Permutations.make(256))
    pairs = np.arange(len(texts)).reshape(-1, 2)
    exact = minhash.exact_jaccard(sh, pairs)
    est = minhash.estimated_jaccard(sig, pairs)
    assert np.allclose(exact, truth)
    assert abs(np.mean(est - exact)) < 0.01  # unbiased
    assert np.mean(np.abs(est - exact)) < 0.04  # ~ sqrt(J(1-J)/256)


def test_optimal_bands_fit_and_favour_recall() -> None:
    b, r = minhash.optimal_bands(0.8, 128)
    assert b * r <= 128
    hit_at_threshold = 1 - (1 - 0.8**r) ** b
    assert hit_at_threshold > 0.9  # datasketch's default 9 x 13 gives 0.40
    assert 1 - (1 - 0.3**r) ** b < 0.01


def test_near_pairs_find_planted_duplicates_only() -> None:
    rng = random.Random(4)
    texts = [t for t in corpus(4, 400) if len(t.split()) >= 40]
    planted = {}
    for i in range(0, 40, 2):
        texts.append(mutate(texts[i], 0.02, rng))
        planted[(i, len(texts) - 1)] = jaccard(texts[i], texts[-1], 3)
    result = near_pairs([normalize(t) for t in texts], threshold=0.8)
    found = {tuple(p) for p in result.pairs.tolist()}
    want = {p for p, j in planted.items() if j >= 0.8}
    assert want and want <= found
    for (i, j), sim in zip(result.pairs.tolist(), result.similarity):
        assert sim == pytest.approx(jaccard(texts[i], texts[j], 3)) and sim >= 0.8


def test_signature_verification_mode() -> None:
    texts = [normalize(t) for t in corpus(5, 50)]
    texts.append(texts[0])
    result = near_pairs(texts, threshold=0.9, verify="signature", index="lsh")
    assert [0, len(texts) - 1] in result.pairs.tolist()
    assert result.stats["verify"] == "signature"


def test_a_big_bucket_of_templated_records_stays_linear_and_connected() -> None:
    from instructkit.dedup.clusters import resolve

    template = "translate the following sentence into french and explain the grammar used: the cat number {} sat on the old mat"
    n = 1000
    texts = [template.format(i) for i in range(n)]
    result = near_pairs(texts, threshold=0.7, index="lsh")
    per_band = 1 + minhash.MAX_BUCKET_PAIRS  # the star link plus the window, per record
    assert result.stats["candidates"] <= n * per_band * result.stats["bands"] < n * (n - 1) // 2
    assert resolve(n, result.pairs).clusters == 1
    result = near_pairs(texts, threshold=0.7)  # the prefix filter caps its big groups the same way
    assert result.stats["capped_groups"] >= 1
    assert result.stats["candidates"] <= n * (prefix.MAX_GROUP + 1) < n * (n - 1) // 2
    assert resolve(n, result.pairs).clusters == 1


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
def test_prefix_filter_misses_no_pair_at_or_above_the_threshold(threshold: float) -> None:
    rng = random.Random(7)
    base = [t for t in corpus(8, 120) if len(t.split()) >= 6]
    texts = list(base)
    for i in range(len(base)):  # copies at a spread of edit rates, so Jaccards straddle t
        texts.append(mutate(base[i], rng.uniform(0.0, 0.15), rng))
    norm = [normalize(t) for t in texts]
    sets = prefix.ranked_sets(shingle(norm, 3))
    n = len(norm)
    every = np.array([(i, j) for i in range(n) for j in range(i + 1, n)], dtype=np.int64)
    truth = every[prefix.jaccard(sets, every) >= threshold]
    assert len(truth) >= 5
    cand, _ = prefix.candidate_pairs(sets, threshold)
    assert {tuple(p) for p in truth.tolist()} <= {tuple(p) for p in cand.tolist()}
    result = near_pairs(norm, threshold=threshold)
    assert sorted(map(tuple, result.pairs.tolist())) == sorted(map(tuple, truth.tolist()))
    for (i, j), sim in zip(result.pairs.tolist(), result.similarity):
        assert sim == pytest.approx(jaccard(norm[i], norm[j], 3))
