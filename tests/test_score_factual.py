"""Factual consistency: claims, the cached BM25 index, the NLI error path, and the LLM judge end to end."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from instructkit.errors import InstructkitError
from instructkit.score.factual import (
    FactualScorer,
    NLIJudge,
    ReferenceIndex,
    read_passages,
    split_claims,
)

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "factual_reference.jsonl"
CLAIMS = [
    json.loads(line)
    for line in (DATA / "factual_claims.jsonl").read_text().splitlines()
    if line.strip()
]


@dataclass
class RecordingJudge:
    """Answers from a fixed table and records what it was asked (to test the plumbing around a judge)."""

    answers: dict[str, str]
    asked: list[tuple[str, list[str]]] = field(default_factory=list)
    name: str = "recording"

    def judge(self, pairs: list[tuple[str, list[str]]]) -> list[str]:
        self.asked += pairs
        return [self.answers.get(claim, "unparsed") for claim, _ in pairs]


def test_split_claims_drops_code_questions_and_fragments() -> None:
    text = "Paris is the capital of France. Why?\n\n```python\nx = 'Not a claim at all here.'\n```\n- The Seine flows through Paris.\nOk."
    assert split_claims(text) == [
        "Paris is the capital of France.",
        "The Seine flows through Paris.",
    ]


def test_index_is_cached_on_disk_and_retrieves_the_right_passage(tmp_path: Path) -> None:
    first = ReferenceIndex(REFERENCE, cache_dir=tmp_path)
    first.load()
    assert not first.cache_hit
    again = ReferenceIndex(REFERENCE, cache_dir=tmp_path)
    again.load()
    assert again.cache_hit
    docs, scores = again.search(["Which planet has the moons Phobos and Deimos?", "qwxz zzkv"], k=3)
    assert again.ids[docs[0, 0]] == "sci-mars" and scores[0, 0] > 0
    assert (scores[1] == 0).all()


def test_verdict_shares_evidence_and_unverifiable_without_judge(tmp_path: Path) -> None:
    judge = RecordingJudge(
        {
            "Mars has two small moons, Phobos and Deimos.": "supported",
            "The Nile flows south into the Indian Ocean.": "contradicted",
        }
    )
    scorer = FactualScorer(ReferenceIndex(REFERENCE, cache_dir=tmp_path), judge, k=2)
    scorer.setup()
    text = "Mars has two small moons, Phobos and Deimos. The Nile flows south into the Indian Ocean. Qwxz zzkv blorp frub."
    scores, evidence = scorer.score([text, "", "```\ncode only\n```"])
    assert scores["factual.supported"][0] == pytest.approx(1 / 3)
    assert scores["factual.contradicted"][0] == pytest.approx(1 / 3)
    assert scores["factual.unverifiable"][0] == pytest.approx(1 / 3)
    assert scores["factual.claims"][0] == 3
    assert len(judge.asked) == 2  # the claim with no shared word never reaches the judge
    assert evidence[0][0]["evidence"][0] == "sci-mars" and evidence[0][2] == {
        "claim": "Qwxz zzkv blorp frub.",
        "verdict": "unverifiable",
        "evidence": [],
    }
    assert all(np.isnan(v[1:]).all() for v in scores.values()) and evidence[1:] == [None, None]


def test_unparsable_judge_answers_stay_in_meta_and_out_of_the_shares(tmp_path: Path) -> None:
    scorer = FactualScorer(ReferenceIndex(REFERENCE, cache_dir=tmp_path), RecordingJudge({}), k=1)
    scorer.setup()
    scores, evidence = scorer.score(["Mars has two small moons, Phobos and Deimos."])
    assert np.isnan(scores["factual.supported"][0]) and evidence[0][0]["verdict"] == "unparsed"


def test_reference_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InstructkitError, match="no such file"):
        read_passages(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "title": "x"}\n')
    with pytest.raises(InstructkitError, match="none of the text fields"):
        read_passages(bad)


@pytest.mark.slow  # imports transformers (several seconds on 2 cores)
def test_nli_model_that_cannot_load_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    # the hub reads the variable at import: when it was imported earlier, patch its constant too
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(InstructkitError, match="no NLI model ships offline.*--judge-url"):
        NLIJudge("cross-encoder/nli-deberta-v3-xsmall").setup()


@pytest.mark.slow
def test_llm_judge_end_to_end_offline(tmp_path: Path) -> None:
    """A real llama.cpp server, the real client, the planted corpus (a subset, to keep the test short)."""
    from instructkit.llm.server import LocalServer
    from instructkit.score.factual import llm_judge

    rows = CLAIMS[:8]
    with LocalServer() as srv:
        judge = llm_judge(srv.base_url, srv.model, cache_path=tmp_path / "judge.sqlite")
        scorer = FactualScorer(ReferenceIndex(REFERENCE, cache_dir=tmp_path), judge, k=1)
        scorer.setup()
        scores, evidence = scorer.score([r["output"] for r in rows])
        again, _ = scorer.score([r["output"] for r in rows])
    assert all(e is not None and e[0]["evidence"] for e in evidence)
    assert {e[0]["verdict"] for e in evidence} <= {
        "supported",
        "contradicted",
        "unverifiable",
        "unparsed",
    }
    for k in scores:
        np.testing.assert_array_equal(
            scores[k], again[k]
        )  # deterministic (and the rerun comes from the cache)
    assert judge.usage()["cached"] >= len(rows)


def tiny_classifier(path: Path, labels: list[str]) -> str:
    """A random one-layer BERT classifier with the offline MiniLM tokenizer, saved to ``path``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from instructkit.models.paths import minilm_dir

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        id2label=dict(enumerate(labels)),
        label2id={lab: i for i, lab in enumerate(labels)},
    )
    BertForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.mark.slow  # imports transformers
def test_nli_judge_reads_the_labels_and_loads_once(tmp_path: Path) -> None:
    """Labels found by name, probabilities per (passage, claim), the most confident passage
    decides, one load per model name, and a model without NLI labels refused in one line."""
    from instructkit.models.nli import load_nli

    name = tiny_classifier(tmp_path / "nli", ["CONTRADICTION", "ENTAILMENT", "NEUTRAL"])
    nli = load_nli(name)
    assert (nli.entailment, nli.contradiction) == (1, 0) and load_nli(name) is nli
    probs = nli.probabilities(
        ["Mars has two moons.", "Paris is in France."], ["Mars has moons."] * 2
    )
    assert probs.shape == (2, 3) and np.allclose(probs.sum(axis=1), 1)
    pairs = [("Mars has moons.", ["Mars has two moons.", "Paris is in France."]), ("x y z w.", [])]
    best = float(probs[:, 1].max())
    assert NLIJudge(name, threshold=best).judge(pairs) == ["supported", "unverifiable"]
    assert NLIJudge(name, threshold=1.01).judge(pairs) == ["unverifiable"] * 2
    sentiment = tiny_classifier(tmp_path / "sentiment", ["NEGATIVE", "POSITIVE"])
    with pytest.raises(InstructkitError, match="is not an NLI model"):
        NLIJudge(sentiment).setup()
