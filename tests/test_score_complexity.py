"""Complexity metrics: the vectorised parse features against a plain tree walk, and their meaning."""

from __future__ import annotations

import numpy as np
import pytest

from instructkit.score.complexity import (
    CONSTRAINT_RE,
    NUMBER_CONSTRAINT_RE,
    ComplexityScorer,
    _depths,
    combine,
)

pytestmark = pytest.mark.slow  # loads the spaCy model

TEXTS = [
    "Write a poem.",
    "Why is the sky blue? Explain it in at least 3 sentences, without jargon, and make sure that the answer you give is correct.",
    "Given the following list of numbers, sort them in ascending order and explain which algorithm you used and why it is efficient.",
    "Paris is the capital of France.",
    "",
    "   ",
]


@pytest.fixture(scope="module")
def scorer() -> ComplexityScorer:
    s = ComplexityScorer()
    s.setup()
    return s


def test_depth_matches_a_tree_walk(scorer: ComplexityScorer) -> None:
    """Against the full pipeline (attribute ruler and lemmatizer on), walked token by token."""
    feats = scorer.score(TEXTS[:4])
    for i, doc in enumerate(scorer._nlp.pipe(TEXTS[:4])):

        def depth(tok):
            return 0 if tok.head.i == tok.i else 1 + depth(tok.head)

        sents = [max(depth(t) for t in s) for s in doc.sents]
        assert feats["dep_depth_max"][i] == max(sents)
        assert feats["dep_depth_mean"][i] == pytest.approx(np.mean(sents))
        assert feats["sentences"][i] == len(sents)
        assert feats["tokens"][i] == sum(not (t.is_punct or t.is_space) for t in doc)
        verbs = [t.lemma_ for t in doc if t.pos_ == "VERB"]
        assert feats["verbs_distinct"][i] == len(set(verbs))


def test_verbs_from_fine_tags_match_the_full_pipeline(scorer: ComplexityScorer) -> None:
    """The fast path (no attribute ruler, lemmas only for verbs) counts the same verbs and
    lemmas as spaCy's full pipeline on real instructions, or nearly: auxiliaries are told
    apart by rule rather than by the ruler's patterns."""
    texts = [
        "Describe how the committee wrote, revised and approved the budget that was proposed.",
        "Rewrite the sentences so that they are written in the passive voice and have been checked.",
        "He has written three books and is writing a fourth; explain what drives him.",
        "Given a list of numbers, sort them and tell me which ones were removed.",
    ]
    feats = scorer.score(texts)
    full = [[t.lemma_ for t in d if t.pos_ == "VERB"] for d in scorer._nlp.pipe(texts)]
    assert feats["verbs_distinct"].tolist() == [float(len(set(v))) for v in full]


def test_pointer_jumping_depths() -> None:
    # chain 0 <- 1 <- 2 <- 3 and a second tree 4 <- 5
    head = np.array([0, 0, 1, 2, 4, 4])
    assert _depths(head).tolist() == [0, 1, 2, 3, 0, 1]


def test_empty_text_is_absent_not_zero(scorer: ComplexityScorer) -> None:
    feats = scorer.score(TEXTS)
    for name, values in feats.items():
        assert np.isnan(values[4]) and np.isnan(values[5]), name
        defined = values[:3] if name == "verb_diversity" else values[:4]
        assert not np.isnan(defined).any(), name
    assert np.isnan(feats["verb_diversity"][3])  # "is" is AUX: no verb, so diversity is undefined


def test_harder_instruction_scores_higher_and_stays_in_unit_interval(
    scorer: ComplexityScorer,
) -> None:
    c = scorer.score(TEXTS[:3])["complexity"]
    assert c[0] < c[1] and c[0] < c[2]
    assert ((c >= 0) & (c < 1)).all()


def test_question_imperative_and_constraints(scorer: ComplexityScorer) -> None:
    f = scorer.score(TEXTS[:4])
    assert f["question"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert f["imperative"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert f["constraints"][1] >= 4  # at least, 3 sentences, without, make sure
    assert f["constraints"][0] == 0 and f["constraints"][3] == 0


def test_scores_are_deterministic(scorer: ComplexityScorer) -> None:
    a, b = scorer.score(TEXTS), scorer.score(list(reversed(TEXTS)))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k][::-1])


def _layers_on_blis(nlp) -> int:
    return sum(
        getattr(layer.ops, "use_blis", False)
        for _, c in nlp.components
        if hasattr(getattr(c, "model", None), "walk")
        for layer in c.model.walk()
    )


def test_numpy_blas_parses_like_stock_spacy(scorer: ComplexityScorer) -> None:
    """load_spacy swaps thinc's BLIS ops for NumPy's BLAS for speed; the parse must not change."""
    import spacy
    from spacy.attrs import DEP, HEAD, TAG

    stock = spacy.load(scorer.model, exclude=["ner"])
    assert _layers_on_blis(stock) > 0 and _layers_on_blis(scorer._nlp) == 0
    for a, b in zip(stock.pipe(TEXTS), scorer._nlp.pipe(TEXTS)):
        np.testing.assert_array_equal(a.to_array([HEAD, DEP, TAG]), b.to_array([HEAD, DEP, TAG]))


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("Answer in 3 sentences.", 1),
        ("A car travels 120 miles in 2 hours.", 0),
        ("Use at least two examples, no more than 100 words.", 4),
    ],
)
def test_constraint_patterns(text: str, n: int) -> None:
    assert len(CONSTRAINT_RE.findall(text)) + len(NUMBER_CONSTRAINT_RE.findall(text)) == n


def test_combine_is_monotone_in_each_feature() -> None:
    base = {
        k: np.array([2.0])
        for k in (
            "tokens",
            "dep_depth_max",
            "clauses",
            "long_words",
            "verbs_distinct",
            "constraints",
        )
    }
    base["word_len_mean"] = np.array([4.0])
    ref = combine(base)[0]
    for k, v in base.items():
        bumped = dict(base) | {k: v + 1}
        assert combine(bumped)[0] > ref, k
