"""Tiers 2 and 3: exact embedding search, the real MiniLM model, and the LLM judge over HTTP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from instructkit.decontam.embed import EmbeddingIndex
from instructkit.decontam.judge import rephrase_judge, verdict
from instructkit.models import embeddings
from instructkit.schema import to_records, to_table
from instructkit.steps.decontaminate import Decontaminate
from tests.fake_llm_server import FakeLLMServer


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_search_is_exact_top_k_with_floor_and_best_score_per_item() -> None:
    rng = np.random.default_rng(1)
    vecs = unit(rng.normal(size=(300, 16)))
    items = np.repeat(np.arange(150, dtype=np.int32), 2)  # two texts per item, like MT-Bench turns
    index = EmbeddingIndex(vecs, items)
    queries = unit(rng.normal(size=(2100, 16)))
    q, i, s = index.search(queries, floor=0.5, k=4)
    sims = queries @ vecs.T
    for row in (0, 1500, 2099):
        top_rows = np.argsort(-sims[row])[:4]
        expect: dict[int, float] = {}
        for r in top_rows:
            if sims[row, r] >= 0.5:
                expect[int(items[r])] = max(expect.get(int(items[r]), -1.0), float(sims[row, r]))
        got = {int(ii): float(ss) for qq, ii, ss in zip(q, i, s) if qq == row}
        assert got == pytest.approx(expect)


def test_verdict_parsing() -> None:
    assert [verdict(a) for a in ["Yes", "no.", "**YES**", " maybe", ""]] == [
        True,
        False,
        True,
        None,
        None,
    ]


def test_judge_asks_an_openai_compatible_server() -> None:
    def responder(messages: list[dict[str, str]], body: dict) -> str:
        candidate = messages[-1]["content"].split("CANDIDATE:")[1]
        return (
            "Yes." if "clips" in candidate else ("No" if "haiku" in candidate else "I am not sure")
        )

    with FakeLLMServer(responder=responder) as srv:
        judge = rephrase_judge(srv.base_url, "fake")
        got = judge.judge([("sold clips in May", "item"), ("a haiku", "item"), ("other", "item")])
    assert got == [True, False, None]
    assert judge.summary()["calls"] == 3 and judge.unclear == 1


BENCH = [
    {
        "id": "b1",
        "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
        "clips in May. How many clips did Natalia sell altogether in April and May?",
    },
    {"id": "b2", "question": "What is the boiling point of water at sea level in degrees Celsius?"},
]
REPHRASED = (
    "In April Natalia sold hair clips to 48 friends; in May she sold half as many. "
    "What is the total number of clips she sold over the two months?"
)


@pytest.fixture
def bench_file(tmp_path: Path) -> Path:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in BENCH))
    return path


def records() -> list[dict]:
    return [
        {
            "id": "reph",
            "source": "t",
            "messages": [{"role": "user", "content": REPHRASED}],
            "meta": {},
        },
        {
            "id": "clean",
            "source": "t",
            "messages": [{"role": "user", "content": "Write a haiku about autumn leaves."}],
            "meta": {},
        },
    ]


@pytest.mark.slow
def test_rephrasing_is_caught_by_embeddings_not_ngrams(bench_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    s = Decontaminate(benchmark=[f"{bench_file}:question"], cache_dir=tmp_path / "c")
    s.setup()
    result = s.process(to_table(records()))
    assert [r["id"] for r in to_records(result.kept)] == ["clean"]
    [rej] = result.rejects
    assert "b item 'b1' by embedding" in rej.detail
    hits = result.sidecars["hits"]
    assert [(h["id"], h["method"], h["verdict"]) for h in hits] == [
        ("reph", "embedding", "contaminated")
    ]
    assert hits[0]["score"] >= s.threshold and hits[0]["evidence"].startswith("Natalia sold clips")
    kept = to_records(result.kept)[0]["scores"]
    # "clean" shares no rare word with the item: never a candidate, so no cosine (absent, not 0)
    assert "decontam.cosine" not in kept and kept["decontam.ngram_overlap"] == 0.0
    encoded = result.stats["hits"]["embedding_benchmark_texts_encoded"]
    assert 1 <= encoded <= len(BENCH)  # candidates of "reph" only
    s2 = Decontaminate(benchmark=[f"{bench_file}:question"], cache_dir=tmp_path / "c")
    s2.setup()
    assert s2.info()["cache_hits"] == ["b:ngram", "b:lexical", f"b:vectors:{encoded}"]
    full = Decontaminate(
        benchmark=[f"{bench_file}:question"], cache_dir=tmp_path / "c", search="full"
    )
    full.setup()
    kept = to_records(full.process(to_table(records())).kept)[0]["scores"]
    assert kept["decontam.cosine"] < full.band


@pytest.mark.slow
def test_judge_decides_the_suspicious_band(bench_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")

    def responder(messages: list[dict[str, str]], body: dict) -> str:
        return "yes" if "clips" in messages[-1]["content"].split("CANDIDATE:")[1] else "no"

    with FakeLLMServer(responder=responder) as srv:
        s = Decontaminate(
            benchmark=[f"{bench_file}:question"],
            embedding_threshold=0.999,
            suspicious_band=-1.0,
            judge_url=srv.base_url,
            judge_model="fake",
            no_cache=True,
            search="full",  # every item is compared, so "clean" reaches the judge too
        )
        s.setup()
        result = s.process(to_table(records()))
    assert [r["id"] for r in to_records(result.kept)] == ["clean"]
    assert "by llm" in result.rejects[0].detail
    hits = result.sidecars["hits"]
    llm = {(h["id"], h["benchmark_id"]): h["verdict"] for h in hits if h["method"] == "llm"}
    assert llm[("reph", "b1")] == "contaminated" and llm[("clean", "b1")] == "cleared"
    assert s.info()["judge"]["calls"] == len(llm)


@pytest.mark.slow
def test_offline_english_model_does_not_compare_other_scripts(tmp_path: Path) -> None:
    """MiniLM scores unrelated Chinese questions near 1.0: with it, such turns get the n-gram tier
    only, and the summary says how many were left out of the embedding tier."""
    pytest.importorskip("sentence_transformers")
    bench = tmp_path / "zh.jsonl"
    bench.write_bytes(orjson.dumps({"id": "z1", "question": "柯洁是谁"}) + b"\n")  # "who is Ke Jie"
    recs = [
        {
            "id": "zh",
            "source": "t",
            "messages": [{"role": "user", "content": "你吃什么"}],
            "meta": {},
        }
    ]  # "what do you eat"
    assert (
        float(np.dot(*embeddings.encode(["柯洁是谁", "你吃什么"]))) > 0.99
    )  # the reason for the guard
    s = Decontaminate(benchmark=[f"{bench}:question"], cache_dir=tmp_path / "c")
    s.setup()
    result = s.process(to_table(recs))
    assert [r["id"] for r in to_records(result.kept)] == ["zh"] and not result.rejects
    assert result.stats["embedding_skipped_non_ascii"] == 1
