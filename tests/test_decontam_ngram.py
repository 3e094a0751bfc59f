"""Tier 1: the sorted uint64 n-gram index against a plain Python reference."""

from __future__ import annotations

import numpy as np
import pytest

from instructkit.decontam.ngram import (
    MIN_WHOLE_WORDS,
    NgramIndex,
    TextGrams,
    grams,
    match,
    tokenize,
)
from instructkit.text import words

TEXTS = [
    "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins.",
    "A robe takes 2 bolts of blue fiber and half that much white fiber.  How many bolts in total does it take?",
    "Ｆｕｌｌ-width ＬＥＴＴＥＲＳ, punctuation_and\tTABS!",
]


def test_tokenize_matches_the_documented_normalisation() -> None:
    _, offsets, flat = tokenize(TEXTS)
    got = [
        flat.slice(offsets[k], offsets[k + 1] - offsets[k]).to_pylist() for k in range(len(TEXTS))
    ]
    assert got == [words(t) for t in TEXTS]


def test_every_ngram_hash_equals_the_hash_of_the_same_words_elsewhere() -> None:
    base = words(TEXTS[0])
    w, off, _ = tokenize([TEXTS[0], "prefix words " + TEXTS[0].upper() + " suffix"])
    h, t, start = grams(w, off, [5])[5]
    assert len(h) == (len(base) - 4) + (len(base) + 3 - 4)  # no gram crosses a text boundary
    first, second = h[t == 0], h[t == 1]
    assert np.array_equal(first, second[2 : 2 + len(first)])
    assert start[t == 1][0] == 0 and start[t == 0][-1] == len(base) - 5


def test_distinct_word_sequences_get_distinct_hashes() -> None:
    rng = np.random.default_rng(0)
    vocab = [f"w{k}" for k in range(50)]
    text = " ".join(rng.choice(vocab, 20000))
    w, off, flat = tokenize([text])
    h, _, start = grams(w, off, [3])[3]
    toks = flat.to_pylist()
    reference = {" ".join(toks[s : s + 3]) for s in start}
    assert len(np.unique(h)) == len(reference)


def test_all_sizes_at_once_equal_one_size_at_a_time() -> None:
    w, off, _ = tokenize(TEXTS)
    many = grams(w, off, [2, 5, 13])
    for m in (2, 5, 13):
        one = grams(w, off, [m])[m]
        assert all(np.array_equal(a, b) for a, b in zip(many[m], one))
    assert not set(grams(w, off, [2])[2][0]) & set(grams(w, off, [3])[3][0])


def test_index_counts_distinct_ngrams_per_item_and_is_sorted() -> None:
    idx = NgramIndex.build([[TEXTS[0]], [TEXTS[1]]], n=4)
    assert np.all(np.diff(idx.hashes.astype(np.float64)) >= 0)
    assert idx.counts.tolist() == [len(words(TEXTS[0])) - 3, len(words(TEXTS[1])) - 3]
    assert idx.nbytes - idx.bits.nbytes < 10 * len(idx.hashes) + 100  # uint64 hash + uint16 item


def test_membership_filter_has_no_false_negatives_and_few_positives() -> None:
    rng = np.random.default_rng(2)
    idx = NgramIndex(
        13,
        np.sort(rng.integers(0, 2**63, 200_000, dtype=np.uint64)),
        np.zeros(200_000, np.uint16),
        np.zeros(1, np.int32),
        np.zeros(0, np.int32),
        np.zeros(1, np.int32),
    )
    assert len(idx.candidates(idx.hashes)) == len(idx.hashes)
    others = rng.integers(0, 2**63, 100_000, dtype=np.uint64)
    assert len(idx.candidates(others)) < 0.05 * len(others)


def test_verbatim_copy_inside_longer_text_has_ratio_one_and_evidence() -> None:
    idx = NgramIndex.build([[TEXTS[0]], [TEXTS[1]]], n=13)
    tg = TextGrams.of(
        ["Answer the following: " + TEXTS[1].lower() + " Thanks!", "unrelated text " * 10], {13}
    )
    m = match(idx, tg)
    assert m.texts.tolist() == [0] and m.items.tolist() == [1] and m.ratios[0] == pytest.approx(1.0)
    assert tg.span(0, int(m.starts[0]), int(m.sizes[0])) == " ".join(words(TEXTS[1]))


def test_partial_overlap_ratio_counts_distinct_shared_ngrams() -> None:
    item = " ".join(f"word{k}" for k in range(30))  # 18 distinct 13-grams
    half = " ".join(f"word{k}" for k in range(15))  # shares the first 3
    m = match(NgramIndex.build([[item]], 13), TextGrams.of([half + " " + half], {13}))
    assert m.ratios.tolist() == [pytest.approx(3 / 18)]


def test_texts_shorter_than_n_are_matched_whole_not_in_part() -> None:
    short = "What happens if you eat watermelon seeds?"  # 7 words
    idx = NgramIndex.build([[short]], n=13)
    assert idx.short.tolist() == [7]
    sizes = {13, *idx.short.tolist()}
    hit = match(idx, TextGrams.of(["Tell me: what happens if you eat watermelon seeds?"], sizes))
    miss = match(idx, TextGrams.of(["what happens if you eat watermelon"], sizes))
    assert hit.ratios.tolist() == [1.0] and len(miss.texts) == 0


def test_short_benchmark_texts_count_only_as_the_whole_turn_never_inside_one() -> None:
    """Regression: a benchmark text shorter than n matched anywhere in a record, so a one-word MMLU
    question flagged every record using the word and 7 words inside a long story flagged the story."""
    short = "What happens if you eat watermelon seeds?"
    idx = NgramIndex.build([[short], ["inflation"], ["who are you"], ["4 3"]], n=13)
    sizes = {13, *idx.short.tolist()}
    records = [
        "Explain how inflation affects savings accounts and what a saver can do about it.",
        "who are you",
        "My grandmother told me stories. What happens if you eat watermelon seeds? she asked, "
        "and then she laughed and told me about the summer she spent on her uncle's farm.",
        "What happens if you eat watermelon seeds?",
    ]
    m = match(idx, TextGrams.of(records, sizes))
    assert list(zip(m.texts.tolist(), m.items.tolist())) == [(3, 0)]


def test_evidence_span_covers_every_matched_word() -> None:
    item = " ".join(f"word{k}" for k in range(40))
    tg = TextGrams.of(["intro " + item + " outro"], {13})
    m = match(NgramIndex.build([[item]], 13), tg)
    assert m.sizes.tolist() == [40] and tg.span(0, int(m.starts[0]), 40) == item


def test_short_main_field_is_matched_whole_only_when_distinctive() -> None:
    long_q = "Which gas do plants absorb from the air to make food?"  # 11 words
    generic = "Which of the following is true?"  # below MIN_WHOLE_WORDS
    choices = ["carbon dioxide gas in the air", "oxygen from the air around", "nitrogen", "helium"]
    idx = NgramIndex.build([[long_q, *choices], [generic, *choices]], n=13)
    assert len(generic.split()) < MIN_WHOLE_WORDS <= len(long_q.split())
    sizes = {13, *idx.short.tolist()}
    reordered = [
        f"{long_q}\nA. {choices[3]}\nB. {choices[0]}",
        f"{generic}\nA. {choices[3]}\nB. {choices[0]}",
    ]
    m = match(idx, TextGrams.of(reordered, sizes))
    assert list(zip(m.texts.tolist(), m.items.tolist())) == [(0, 0)]


def test_arrays_round_trip() -> None:
    idx = NgramIndex.build([[TEXTS[0]], ["short text here"]], n=13)
    back = NgramIndex.from_arrays(idx.arrays())
    assert (
        back.n == 13
        and np.array_equal(back.hashes, idx.hashes)
        and np.array_equal(back.short, idx.short)
    )
