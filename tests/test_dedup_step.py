"""The dedup step and command: exact normalisation, keep-one-per-cluster, rejects that name the kept record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from instructkit.dedup.clusters import resolve, resolve_star
from instructkit.dedup.exact import exact_pairs
from instructkit.errors import InstructkitError
from instructkit.schema import to_table
from instructkit.steps import get_step
from instructkit.steps.dedup import Dedup
from instructkit.text import normalize

LONG = (
    "Photosynthesis is the process by which green plants and some other organisms use sunlight to "
    "synthesize foods from carbon dioxide and water, generating oxygen as a by product of the reaction"
)


def rec(i: str, user: str, answer: str = "ok", scores: dict[str, float] | None = None) -> dict:
    r = {
        "id": i,
        "source": "t",
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
        "meta": {},
    }
    if scores:
        r["scores"] = scores
    return r


def test_exact_pairs_use_the_documented_normalisation() -> None:
    texts = [
        normalize(t)
        for t in ["Hello, World!", "hello   world", "ＨＥＬＬＯ world", "hello there", "", ""]
    ]
    assert exact_pairs(texts).tolist() == [[0, 1], [0, 2]]  # empty texts never match


def test_resolve_keeps_one_per_cluster_first_or_best() -> None:
    pairs = np.array([[0, 1], [1, 2], [3, 4]])
    first = resolve(6, pairs)
    assert first.keeper.tolist() == [0, 0, 0, 3, 3, 5]
    assert first.dropped.tolist() == [1, 2, 4] and first.clusters == 2
    best = resolve(6, pairs, np.array([0.1, np.nan, 0.9, 0.5, 0.5, 0.0]))
    assert best.keeper.tolist() == [
        2,
        2,
        2,
        3,
        3,
        5,
    ]  # NaN ranks last; a tie goes to the first seen


@pytest.mark.parametrize("how", [resolve, resolve_star])
def test_resolve_never_drops_a_whole_cluster(how) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = 50
        pairs = rng.integers(0, n, size=(40, 2))
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        c = how(n, pairs, rng.normal(size=n))
        kept = set(np.flatnonzero(c.keeper == np.arange(n)).tolist())
        assert all(int(k) in kept for k in c.keeper)  # every keeper is itself kept
        if how is resolve_star:  # and every dropped record is directly linked to its keeper
            linked = {(int(a), int(b)) for a, b in pairs} | {(int(b), int(a)) for a, b in pairs}
            assert all((int(c.keeper[d]), int(d)) in linked for d in c.dropped)


def test_star_does_not_drop_along_a_chain() -> None:
    pairs = np.array([[0, 1], [1, 2]])
    assert resolve(3, pairs).dropped.tolist() == [1, 2]
    star = resolve_star(3, pairs)
    assert star.keeper.tolist() == [0, 0, 2]  # 2 is like 1, not like the kept 0: it stays


#: A tool header shared by every record, as in GPTeacher toolformer: the boilerplate that chains.
HEADER = (
    "toolformer enabled toolformer access wikipedia a wrapper around wikipedia useful for when you need "
    "to display general information about people places companies historical events or other subjects "
    "found in an encyclopedia displays a snippet summary of the topic input should be a search query"
)
STORY = (
    "amber rivers carve deep canyons while patient farmers plant barley near quiet villages every spring "
    "then merchants carry salted fish across mountain passes toward busy harbour towns where sailors trade "
    "copper tools woollen cloth painted pottery and fragrant spices under bright lanterns until dawn"
).split()


def _words3(text: str) -> set[tuple[str, ...]]:
    w = normalize(text).split()
    return {tuple(w[i : i + 3]) for i in range(len(w) - 2)}


def test_default_never_drops_a_record_below_the_threshold_to_its_kept_one() -> None:
    """Regression: records sharing a tool header, each question shifted two words from the previous,
    form a chain of >= 0.8 neighbours; connected components dropped the whole chain for the first
    record although the far end shares little more than the header with it."""
    texts = [HEADER + " " + " ".join(STORY[2 * k : 2 * k + 14]) for k in range(12)]
    table = to_table([rec(f"r{k}", t, "wikipedia(query)") for k, t in enumerate(texts)])
    result = Dedup(method=["near"]).process(table)
    ids = [f"r{k}" for k in range(12)]
    assert result.rejects, "the planted chain has near-duplicates"
    for r in result.rejects:
        kept = r.detail.split("near duplicate of id ")[1].split(" ")[0]
        a = _words3(texts[ids.index(r.record["id"])] + " wikipedia(query)")
        b = _words3(texts[ids.index(kept)] + " wikipedia(query)")
        assert len(a & b) / len(a | b) >= 0.8, r.detail
        assert "linked to it through" not in r.detail
    # components kept r0 alone; far members of the chain are not near-duplicates of it
    kept_ids = result.kept.column("id").to_pylist()
    assert kept_ids[0] == "r0" and len(kept_ids) >= 3
    assert result.stats["near"]["candidates"] >= result.stats["near"]["verified"] > 0


def test_step_exact_and_near_with_rejects_that_name_the_kept_record() -> None:
    table = to_table(
        [
            rec("a", LONG),
            rec("b", LONG.upper() + "!!"),  # exact after normalisation
            rec("c", LONG.replace("oxygen", "O2")),  # near: one word differs
            rec("d", "Write a haiku about autumn leaves."),
        ]
    )
    step = get_step("dedup")()
    result = step.process(table)
    assert result.kept.column("id").to_pylist() == ["a", "d"]
    assert table.num_rows == result.kept.num_rows + len(result.rejects)
    by_id = {r.record["id"]: r for r in result.rejects}
    assert all(r.reason == "duplicate" and r.step == "dedup" for r in result.rejects)
    assert "exact duplicate of id a" in by_id["b"].detail
    assert "near duplicate of id a" in by_id["c"].detail and "Jaccard 0.8" in by_id["c"].detail
    s = result.stats
    assert s["exact"]["dropped"] == 1 and s["near"]["dropped"] == 1


def test_index_lsh_uses_num_perm_and_the_default_prefix_filter_does_not() -> None:
    """num_perm and seed only shape the MinHash LSH index; the summary says which index ran."""
    table = to_table([rec(str(i), LONG.replace("oxygen", f"O{i}")) for i in range(6)])
    prefix = Dedup(method=["near"]).process(table)
    assert prefix.stats["near"]["index"] == "prefix" and "num_perm" not in prefix.stats["near"]
    lsh = Dedup(method=["near"], index="lsh", num_perm=64, seed=3).process(table)
    assert lsh.stats["near"]["index"] == "lsh" and lsh.stats["near"]["num_perm"] == 64
    assert lsh.stats["near"]["bands"] * lsh.stats["near"]["rows"] <= 64
    assert lsh.kept.column("id").to_pylist() == prefix.kept.column("id").to_pylist() == ["0"]


def test_keep_best_metric_and_missing_metric_error() -> None:
    table = to_table(
        [rec("a", LONG, scores={"q": 0.2}), rec("b", LONG, scores={"q": 0.7}), rec("c", LONG)]
    )
    result = Dedup(method="exact", keep_best="q").process(table)
    assert result.kept.column("id").to_pylist() == ["b"]
    with pytest.raises(InstructkitError, match="no record has scores.nope"):
        Dedup(method=["exact"], keep_best="nope").process(table)


def test_fields_instruction_ignores_the_response() -> None:
    table = to_table([rec("a", "Name a colour.", "Blue."), rec("b", "Name a colour.", "Red.")])
    assert Dedup(method=["exact"]).process(table).kept.num_rows == 2
    assert Dedup(method=["exact"], fields="instruction").process(table).kept.num_rows == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": ["fuzzy"]},
        {"fields": "response"},
        {"threshold": 1.5},
        {"num_perm": 1},
        {"index": "bands"},
    ],
)
def test_bad_options_are_one_clear_error(kwargs: dict) -> None:
    with pytest.raises(InstructkitError):
        Dedup(**kwargs)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "instructkit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_writes_output_rejects_and_summary(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    rows = [
        {"instruction": LONG, "input": "", "output": "x"},
        {"instruction": LONG + ".", "input": "", "output": "x"},
        {"instruction": "Other task entirely.", "input": "", "output": "y"},
    ]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "out" / "data.jsonl"
    proc = run_cli(
        "dedup", str(src), "-o", str(out), "--method", "exact,near", "--threshold", "0.7"
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "out" / "data.summary.json").read_text())
    assert (
        summary["records_in"] == 3
        and summary["records_out"] == 2
        and summary["rejected"] == {"duplicate": 1}
    )
    assert summary["steps"]["dedup"]["near"]["threshold"] == 0.7
    reject = json.loads((tmp_path / "out" / "data.rejects.jsonl").read_text())
    assert reject["reason"] == "duplicate" and "input record #1" in reject["detail"]


def test_cli_bad_method_exits_2_with_one_line(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"instruction": "a", "output": "b"}) + "\n")
    proc = run_cli("dedup", str(src), "-o", str(tmp_path / "o.jsonl"), "--method", "fuzzy")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "option 'method'" in proc.stderr


@pytest.mark.shared_data
def test_alpaca_gpt4_demo_has_14_exact_duplicates(shared_data: Path) -> None:
    import pyarrow as pa

    from instructkit.accounting import RunLog
    from instructkit.io.read import read_tables

    folder = shared_data / "instructions" / "alpaca_gpt4_style_demo_llamafactory"
    table = pa.concat_tables(list(read_tables([str(folder)], RunLog(None, None))))
    assert table.num_rows == 999
    result = Dedup(method=["exact"]).process(table)
    assert len(result.rejects) == 14
    assert table.num_rows == result.kept.num_rows + len(result.rejects)


@pytest.mark.slow
def test_semantic_dedup_with_the_offline_minilm() -> None:
    table = to_table(
        [
            rec("a", "How do I bake a loaf of sourdough bread at home?", ""),
            rec("b", "How can I bake a loaf of sourdough bread at home?", ""),
            rec("c", "List three prime numbers greater than one hundred.", ""),
            rec(
                "d", "柯洁是谁", ""
            ),  # MiniLM scores these two at cosine 1.0: the English default skips them
            rec("e", "你吃什么", ""),
        ]
    )
    step = Dedup(method=["semantic"], semantic_threshold=0.9)
    step.setup()
    result = step.process(table)
    assert result.kept.column("id").to_pylist() == ["a", "c", "d", "e"]
    assert "semantic duplicate of id a (input record #1): cosine 0.9" in result.rejects[0].detail
    assert result.stats["semantic"]["encode_seconds"] > 0
    assert result.stats["semantic"]["skipped_non_ascii"] == 2


def test_non_ascii_share_is_per_text() -> None:
    from instructkit.models.embeddings import mostly_non_ascii

    got = mostly_non_ascii(["hello", "", "李白是谁", "café au lait", "你好 hello world foo bar"])
    assert got.tolist() == [False, False, True, False, False]
