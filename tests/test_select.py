"""The select step: each method, budgets, ties, missing and collapsed scores, determinism.

Fast tests replace the encoder with tiny synthetic embeddings whose geometry
the test controls (records about one topic point one way); the real encoders
are exercised in the tests marked slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from instructkit.dedup.fields import record_texts
from instructkit.errors import InstructkitError, StrictError
from instructkit.models import embeddings
from instructkit.models.embeddings import mostly_non_ascii
from instructkit.models.vector_cache import VectorCache, text_keys
from instructkit.schema import scores_frame, to_table
from instructkit.select.expression import parse
from instructkit.select.features import embedding_texts, metric_columns, token_counts
from instructkit.select.pool import Budget, Pool, nearest_before
from instructkit.steps.select import Select, SelectConfig
from tests.helpers import cli, read_jsonl, write_jsonl

TOPICS = ["cooking", "physics", "poetry", "finance", "sports"]
DIMS = 16


def fake_encode(
    texts: list[str] | pa.Array, name: str = "minilm", batch_size: int = 64, **_: object
) -> np.ndarray:
    """A topic word sets the main direction, the rest of the text a small deterministic offset."""
    if isinstance(texts, pa.Array):  # select hands its texts over as Arrow
        texts = texts.to_pylist()
    out = np.zeros((len(texts), DIMS), np.float32)
    for r, text in enumerate(texts):
        for t, topic in enumerate(TOPICS):
            if topic in text:
                out[r, t] = 1.0
        rng = np.random.default_rng(int(text_keys([text])[0] % (1 << 32)))
        out[r] += 0.05 * rng.standard_normal(DIMS).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture(autouse=True)
def synthetic_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "encode", fake_encode)
    monkeypatch.setitem(embeddings.last_stats, "model", "fake")


def rec(
    i: str, user: str | None, score: float | None = 0.5, source: str = "a", answer: str = "ok"
) -> dict:
    msgs = [{"role": "assistant", "content": answer}]
    if user is not None:
        msgs.insert(0, {"role": "user", "content": user})
    r: dict = {"id": i, "source": source, "messages": msgs, "meta": {}}
    if score is not None:
        r["scores"] = {"complexity": score}
    return r


def run(records: list[dict], **options: object):
    step = Select(SelectConfig.from_config({"by": "complexity", **options}))
    step.setup()
    return step.process(to_table(records))


def picked(result) -> list[str]:
    return [r["id"] for r in result.sidecars["selection"]]


def details(result) -> dict[str, str]:
    return {r.record["id"]: r.detail for r in result.rejects}


def clusters(per: int = 4) -> list[dict]:
    """``per`` records on each topic; scores fall with the position so the best topic is cooking."""
    out = []
    for t, topic in enumerate(TOPICS):
        for k in range(per):
            out.append(rec(f"{topic}{k}", f"{topic} question number {k}", 0.9 - 0.1 * t - 0.01 * k))
    return out


# --- --by ----------------------------------------------------------------------------------


def test_by_expression_is_evaluated_over_dotted_metrics() -> None:
    expr = parse("scores.complexity * (1 - toxicity) + 0.5 * log1p(format.tokens)")
    assert expr.metrics == ("complexity", "toxicity", "format.tokens")
    cols = {
        "complexity": np.array([0.5, 1.0]),
        "toxicity": np.array([0.0, 0.5]),
        "format.tokens": np.array([0.0, np.e - 1]),
    }
    assert np.allclose(expr.evaluate(cols, 2), [0.5, 1.0])
    assert np.isnan(
        parse("complexity / toxicity").evaluate(
            {"complexity": np.ones(1), "toxicity": np.zeros(1)}, 1
        )[0]
    )


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo hi')",
        "complexity.__class__()",
        "[1, 2]",
        "open('x')",
        "complexity if 1 else 2",
        "lambda: 1",
        "True",
    ],
)
def test_by_expression_refuses_anything_but_arithmetic(text: str) -> None:
    with pytest.raises(InstructkitError, match="option 'by'"):
        parse(text)
    with pytest.raises(InstructkitError, match="option 'by'"):
        SelectConfig.from_config({"by": text})


# --- methods --------------------------------------------------------------------------------


def test_deita_skips_near_duplicates_of_a_better_record_and_names_it() -> None:
    records = clusters()
    result = run(records, n=5, threshold=0.9)
    assert picked(result) == ["cooking0", "physics0", "poetry0", "finance0", "sports0"]
    d = details(result)
    assert (
        d["cooking1"].startswith("similarity 0.9")
        and "to cooking0, which scored higher" in d["cooking1"]
    )
    assert result.kept.num_rows == 5 and len(result.rejects) == len(records) - 5
    # With a threshold nothing exceeds, deita is the plain top-N by score.
    assert picked(run(records, n=3, threshold=1.0)) == ["cooking0", "cooking1", "cooking2"]


def test_deita_rejects_below_the_cut_say_so() -> None:
    records = [rec(f"r{k}", f"{TOPICS[k]} q", 1.0 - 0.1 * k) for k in range(5)]
    d = details(run(records, n=2))
    assert d["r4"].startswith("below the score cut: scored 0.6") and "at least 0.9" in d["r4"]


def test_kcenter_and_facility_cover_every_cluster() -> None:
    records = clusters()
    for method in ("kcenter", "facility"):
        result = run(records, n=5, method=method)
        topics = {i.rstrip("0123456789") for i in picked(result)}
        assert topics == set(TOPICS), method
        assert all("which was selected" in v for v in details(result).values())
    assert picked(run(records, n=5, method="kcenter"))[0] == "cooking0"  # the best score first


def test_facility_partitions_large_pools_and_still_covers(monkeypatch: pytest.MonkeyPatch) -> None:
    from instructkit.select import facility

    monkeypatch.setattr(facility, "PARTITION", 7)
    monkeypatch.setattr(facility, "GROUND", 11)
    topics = {i.rstrip("0123456789") for i in picked(run(clusters(6), n=5, method="facility"))}
    assert topics == set(TOPICS)


def test_random_is_seeded() -> None:
    records = clusters()
    a, b = (
        picked(run(records, n=6, method="random", seed=3)),
        picked(run(records, n=6, method="random", seed=3)),
    )
    assert a == b and len(a) == 6
    assert a != picked(run(records, n=6, method="random", seed=4))
    assert "seeded random sample (--seed 3)" in next(
        iter(details(run(records, n=6, method="random", seed=3)).values())
    )


# --- budgets --------------------------------------------------------------------------------


def test_per_source_counts_shares_and_default() -> None:
    records = [
        rec(f"{s}{k}", f"{TOPICS[k % 5]} {s} {k}", 0.9 - 0.01 * k, source=s)
        for s in "abc"
        for k in range(10)
    ]
    result = run(records, n=10, threshold=1.0, per_source="a=2,b=0.3,*=1")
    chosen = picked(result)
    assert [c[0] for c in chosen].count("a") == 2 and [c[0] for c in chosen].count("b") == 3
    assert [c[0] for c in chosen].count("c") == 1 and len(chosen) == 6
    assert "quota for source 'a' (2 records" in details(result)["a2"]
    with pytest.raises(InstructkitError, match="no record has source 'zz'"):
        run(records, n=3, per_source="zz=1")
    with pytest.raises(InstructkitError, match="SOURCE=COUNT"):
        run(records, n=3, per_source="a")


def test_token_budget_is_never_exceeded() -> None:
    records = [
        rec(f"r{k}", f"{TOPICS[k % 5]} " + "word " * (10 * (k + 1)), 1.0 - 0.01 * k)
        for k in range(10)
    ] + [rec("short", "poetry haiku", 0.1)]
    counts = token_counts(to_table(records))
    tokens = dict(zip([r["id"] for r in records], counts.tolist()))
    assert tokens["r0"] == 12 and tokens["short"] == 3  # words and punctuation of every turn
    result = run(records, n=10, threshold=1.0, max_tokens=100)
    # 12 + 22 + 32 = 66; r3 (42) and every longer record would overflow, the short one still fits.
    assert picked(result) == ["r0", "r1", "r2", "short"]
    assert sum(tokens[i] for i in picked(result)) <= 100
    assert (
        "its 42 tokens would exceed the token budget (--max-tokens 100; 34 left)"
        in details(result)["r3"]
    )


def test_tokens_selected_is_counted_once_with_or_without_a_token_budget() -> None:
    """Without --max-tokens the features skip the token count and apply counts the picks'."""
    records = clusters(2)
    tokens = dict(zip([r["id"] for r in records], token_counts(to_table(records)).tolist()))
    for options in ({}, {"max_tokens": 10_000}):
        result = run(records, n=3, **options)
        assert result.stats["tokens_selected"] == sum(tokens[i] for i in picked(result))


def test_default_threshold_suits_the_encoder() -> None:
    assert SelectConfig.from_config({}).threshold == 0.8
    assert SelectConfig.from_config({"fields": "instruction"}).threshold == 0.85
    assert SelectConfig.from_config({"embedding-model": "/models/other"}).threshold == 0.9
    assert SelectConfig.from_config({"embedding-model": "static"}).threshold == 0.75
    assert (
        SelectConfig.from_config({"embedding-model": "static", "threshold": 0.8}).threshold == 0.8
    )
    assert SelectConfig.from_config({"threshold": 0.5}).to_mapping()["threshold"] == 0.5


def test_ties_keep_input_order_and_are_deterministic() -> None:
    records = [rec(f"r{k}", f"{TOPICS[k % 5]} tie {k}", 0.5) for k in range(10)]
    assert picked(run(records, n=4, threshold=1.0)) == ["r0", "r1", "r2", "r3"]
    assert "tied with the cut" in details(run(records, n=4, threshold=1.0))["r4"]
    d = details(run(records, n=6, threshold=0.9))
    assert "to r0, which scored the same and comes first in the input" in d["r5"]


def test_n_larger_than_the_pool_selects_all_and_says_so() -> None:
    records = clusters(1)
    result = run(records, n=50)
    assert result.kept.num_rows == 5 and not result.rejects
    assert any("only 5 can be selected" in w for w in result.stats["warnings"])


# --- missing and collapsed scores ----------------------------------------------------------


def test_missing_score_is_an_error_naming_the_metric_and_command() -> None:
    records = clusters(1) + [rec("x", "cooking without score", None)]
    with pytest.raises(
        InstructkitError,
        match=r"scores\.complexity.*1 of 6.*instructkit score --metrics complexity",
    ):
        run(records, n=2)
    with pytest.raises(
        InstructkitError, match=r"scores\.toxicity.*instructkit score --metrics safety"
    ):
        run(records[:5], n=2, by="complexity * (1 - toxicity)")


def test_records_without_a_user_turn() -> None:
    records = clusters(1) + [rec("noq", None, None, answer="a reply with no question")]
    with pytest.raises(InstructkitError, match="records without a user turn"):
        run(records, n=2)
    result = run(records, n=2, missing="reject")
    assert details(result)["noq"].startswith("no scores.complexity")
    assert result.kept.num_rows == 2 and len(result.rejects) == 4
    # random needs no score: the record is in the pool.
    assert len(picked(run(records, n=6, method="random"))) == 6


def test_collapsed_scores_warn_loudly(capsys: pytest.CaptureFixture[str]) -> None:
    records = [rec(f"r{k}", f"{TOPICS[k % 5]} {k}", 3.0) for k in range(8)]
    result = run(records, n=3)
    assert any("collapsed" in w for w in result.stats["warnings"])
    assert "warning: select: the scores by 'complexity' have collapsed" in capsys.readouterr().err


# --- files ----------------------------------------------------------------------------------


def test_selection_file_rejects_and_byte_identical_reruns(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", clusters())
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}" / "sel.jsonl"
        out.parent.mkdir()
        res = cli("select", src, "-o", out, "-n", "5", "--by", "complexity")
        assert res.exit_code == 0, res.output
        outs.append(out)
    for name in ("sel.jsonl", "sel.selection.jsonl", "sel.rejects.jsonl"):
        assert (outs[0].parent / name).read_bytes() == (outs[1].parent / name).read_bytes(), name
    rows = read_jsonl(outs[0].parent / "sel.selection.jsonl")
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0] == {
        "id": "cooking0",
        "rank": 1,
        "score": 0.9,
        "nearest_id": None,
        "similarity": None,
    }
    assert rows[1]["nearest_id"] == "cooking0" and -1 <= rows[1]["similarity"] <= 1
    rejects = read_jsonl(outs[0].parent / "sel.rejects.jsonl")
    assert len(rejects) == 15 and {r["reason"] for r in rejects} == {"not_selected"}
    assert set(rejects[0]["record"]) == {"id", "scores"}
    summary = json.loads((outs[0].parent / "sel.summary.json").read_text())
    assert summary["balanced"] and summary["steps"]["select"]["selected"] == 5


def test_stats_reads_the_selection_beside_an_output_or_given_alone(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", clusters())
    out = tmp_path / "sel.jsonl"
    assert cli("select", src, "-o", out, "-n", "5", "--by", "complexity").exit_code == 0
    rows = read_jsonl(tmp_path / "sel.selection.jsonl")
    res = cli("stats", out, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    summary = doc["selections"][str(tmp_path / "sel.selection.jsonl")]
    assert doc["sources"]["a"]["records"] == 5 and summary["picks"] == 5
    assert summary["without_earlier_neighbour"] == 1  # the first pick has nothing before it
    assert summary["score"]["max"] == max(r["score"] for r in rows) == 0.9
    sims = [r["similarity"] for r in rows[1:]]
    assert summary["nearest_similarity"]["n"] == 4
    assert summary["nearest_similarity"]["max"] == round(max(sims), 4)
    # given alone, with a damaged line (a killed run): summarised, the line counted, no records read
    sel = tmp_path / "sel.selection.jsonl"
    sel.write_text(sel.read_text() + "{not json\n")
    res = cli("stats", sel)
    assert res.exit_code == 0 and "5 picks" in res.stdout and "1 unreadable lines" in res.stdout
    assert "could not be read" not in res.output


def test_nearest_before_is_the_most_similar_earlier_pick() -> None:
    v = np.eye(4, dtype=np.float32)
    v[2] = [0.8, 0.6, 0, 0]
    best, sim = nearest_before(v, [0, 1, 2, 3])
    assert best.tolist() == [-1, 0, 0, 0] and np.isclose(sim[2], 0.8)


def test_budget_rejects_in_order() -> None:
    pool = Pool(
        ["a", "b"],
        np.array(["s", "s"], object),
        np.array([1.0, 0.5]),
        np.array([5, 5]),
        np.eye(2, dtype=np.float32),
    )
    b = Budget(pool, 5, {"s": 1}, max_tokens=None)
    assert b.refuses(0) is None
    b.take(0)
    assert "quota" in (b.refuses(1) or "")


# --- features in bulk ----------------------------------------------------------------------


def test_arrow_texts_hash_and_check_exactly_as_python_strings() -> None:
    """The bulk path (select's) must give the keys dedup and decontaminate store from lists."""
    texts = ["hello", "", "李白是谁", "café au lait", "你好 hello world foo bar", "x" * 5000]
    for arr in (
        pa.array(texts, pa.string()),
        pa.array(["pad", *texts], pa.large_string()).slice(1),
    ):
        assert text_keys(arr).tolist() == text_keys(texts).tolist()
        assert mostly_non_ascii(arr).tolist() == mostly_non_ascii(texts).tolist()
    with_null = pa.array(["a", None, "b"])
    assert text_keys(with_null).tolist() == text_keys(["a", "", "b"]).tolist()
    assert text_keys(pa.array([], pa.string())).tolist() == []


def test_metric_columns_read_the_scores_map_like_scores_frame() -> None:
    records = [
        rec("a", "q", 0.5),
        rec("b", "q", None),
        {**rec("c", "q", None), "scores": {"toxicity": 0.25, "complexity": 0.75}},
        rec("d", "q", 0.125),
    ]
    table = to_table(records).slice(1)
    got = metric_columns(table, ("complexity", "toxicity", "absent"))
    frame = scores_frame(table)
    assert np.array_equal(got["complexity"], frame["complexity"], equal_nan=True)
    assert np.array_equal(got["toxicity"], frame["toxicity"], equal_nan=True)
    assert np.isnan(got["absent"]).all()
    texts = embedding_texts(to_table(records), "all")
    assert texts.to_pylist() == record_texts(to_table(records), "all")


# --- the shared embedding cache ------------------------------------------------------------


def test_vector_cache_round_trip_and_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from instructkit.models import vector_cache

    monkeypatch.setattr(vector_cache, "MAX_SHARDS", 2)
    cache = VectorCache("m", root=tmp_path)
    keys = text_keys([f"t{i}" for i in range(9)])
    vecs = np.arange(9 * 3, dtype=np.float32).reshape(9, 3)
    for s in range(3):
        cache.add(keys[3 * s : 3 * s + 3], vecs[3 * s : 3 * s + 3])
    assert len(list(cache.dir.glob("*.npz"))) == 1  # merged past MAX_SHARDS
    found_vecs, found = VectorCache("m", root=tmp_path).lookup(
        np.concatenate([keys[::-1], text_keys(["new"])])
    )
    assert found.tolist() == [True] * 9 + [False]
    assert np.array_equal(found_vecs[:9], vecs[::-1])
    assert VectorCache("other", root=tmp_path).lookup(keys)[0] is None


def test_encode_uses_the_cache_and_encodes_repeats_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # the real encode, with a fake model underneath
    monkeypatch.setenv("INSTRUCTKIT_CACHE", str(tmp_path))
    calls: list[list[str]] = []

    def raw(texts: list[str], name: str, batch_size: int) -> np.ndarray:
        calls.append(list(texts))
        return fake_encode(texts)

    monkeypatch.setattr(embeddings, "_encode_raw", raw)
    first = embeddings.encode(["cooking a", "physics b", "cooking a"], "fake-model")
    assert calls == [["cooking a", "physics b"]] and np.array_equal(first[0], first[2])
    again = embeddings.encode(["physics b", "poetry c"], "fake-model")
    assert calls[1] == ["poetry c"] and np.array_equal(again[0], first[1])
    assert embeddings.last_stats["cache_hits"] == 1 and embeddings.last_stats["encoded"] == 1
    embeddings.encode(["physics b"], "fake-model", cache=False)
    assert calls[2] == ["physics b"]


# --- real encoders --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("model", ["static", "minilm"])
def test_real_encoders_select_across_topics(model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    monkeypatch.setenv("INSTRUCTKIT_EMBEDDING_CACHE", "off")
    texts = [
        "How do I bake sourdough bread at home?",
        "What is the best way to bake bread with a sourdough starter at home?",
        "Explain Newton's second law of motion.",
        "Write a short poem about the autumn sea.",
    ]
    records = [rec(f"r{k}", t, 1.0 - 0.1 * k) for k, t in enumerate(texts)]
    result = run(records, n=3, embedding_model=model, threshold=0.8, fields="instruction")
    assert picked(result) == ["r0", "r2", "r3"]
    assert "to r0, which scored higher" in details(result)["r1"]


def test_recipe_step_select(tmp_path: Path) -> None:
    from instructkit.recipe import load, run_recipe

    (tmp_path / "in").mkdir()
    write_jsonl(
        tmp_path / "in" / "a.jsonl",
        [
            {"instruction": f"{t} question {k}", "output": "answer " * (k + 1)}
            for t in TOPICS
            for k in range(3)
        ],
    )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "name: t\ninputs:\n  - path: in\n    license: cc-by-4.0\noutput: run\nsteps:\n"
        "  - score: {metrics: [format]}\n  - select: {n: 5, by: 'format.tokens'}\n"
    )
    funnel = run_recipe(load(recipe))
    assert funnel["balanced"] and funnel["steps"][-1]["step"] == "select"
    rows = read_jsonl(tmp_path / "run" / "02-select" / "data.selection.jsonl")
    assert len(rows) == 5 and {r["id"] for r in rows} == {
        r["id"] for r in read_jsonl(tmp_path / "run" / "data.jsonl")
    }


def test_strict_does_not_stop_for_records_left_out_by_the_selection(tmp_path: Path) -> None:
    from instructkit.accounting import Reject, RunLog

    with RunLog(tmp_path / "r.jsonl", None, strict=True) as log:
        log.reject(Reject("select", "not_selected", "below the score cut"))
        with pytest.raises(StrictError):
            log.reject(Reject("read", "invalid_json", "line 3"))
