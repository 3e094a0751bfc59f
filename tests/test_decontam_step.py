"""The decontaminate step and command, n-gram tier (fast; the embedding tier is in test_decontam_embed.py)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from instructkit.cli.app import app as cli_app
from instructkit.errors import InstructkitError
from instructkit.schema import to_records, to_table
from instructkit.steps import REGISTRY, get_step
from instructkit.steps.decontaminate import Decontaminate

ITEMS = [
    {
        "id": "q1",
        "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
    },
    {
        "id": "q2",
        "question": "Weng earns 12 dollars an hour for babysitting and yesterday she did 50 minutes of babysitting.",
    },
]


def rec(rid: str, *turns: str) -> dict:
    roles = ["user", "assistant"] * len(turns)
    return {
        "id": rid,
        "source": "t",
        "messages": [{"role": r, "content": t} for r, t in zip(roles, turns)],
        "meta": {},
    }


RECORDS = [
    rec("clean", "Write a haiku about autumn.", "Leaves fall."),
    rec(
        "leak",
        "Answer the following: NATALIA sold clips to 48 of her friends in April, and then she sold "
        "half as many clips in May!",
        "72",
    ),
    rec(
        "multi",
        "Hi there.",
        "Hello!",
        "Weng earns 12 dollars an hour for babysitting and yesterday she did 50 "
        "minutes of babysitting. How much?",
        "$10",
    ),
]


@pytest.fixture
def bench_file(tmp_path: Path) -> Path:
    path = tmp_path / "mybench.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in ITEMS))
    return path


def step(bench_file: Path, tmp_path: Path, **kw: object) -> Decontaminate:
    s = Decontaminate(
        benchmark=[f"{bench_file}:question"],
        embedding_model="none",
        cache_dir=tmp_path / "cache",
        **kw,
    )
    s.setup()
    return s


def test_registered() -> None:
    assert (
        REGISTRY["decontaminate"].endswith(":Decontaminate")
        and get_step("decontaminate") is Decontaminate
    )


def test_filter_drops_leaks_with_actionable_rejects_and_hits(
    bench_file: Path, tmp_path: Path
) -> None:
    result = step(bench_file, tmp_path).process(to_table(RECORDS))
    kept = to_records(result.kept)
    assert [r["id"] for r in kept] == ["clean"]
    assert kept[0]["scores"]["decontam.ngram_overlap"] == 0.0
    assert len(kept) + len(result.rejects) == len(RECORDS)
    by_id = {r.record["id"]: r for r in result.rejects}
    assert set(by_id) == {"leak", "multi"} and all(
        r.reason == "contaminated" for r in result.rejects
    )
    assert "mybench item 'q1' by ngram (score 1.000)" in by_id["leak"].detail
    assert by_id["multi"].detail.startswith("turn 2 matches mybench item 'q2'")
    hits = result.sidecars["hits"]
    assert {(h["id"], h["benchmark_id"], h["method"], h["turn"]) for h in hits} == {
        ("leak", "q1", "ngram", 0),
        ("multi", "q2", "ngram", 2),
    }
    assert {"id", "benchmark", "benchmark_id", "method", "score", "evidence"} <= set(hits[0])
    assert hits[0]["evidence"].startswith("natalia sold clips to 48")


def test_flag_mode_keeps_everything_and_still_writes_hits(bench_file: Path, tmp_path: Path) -> None:
    result = step(bench_file, tmp_path, mode="flag").process(to_table(RECORDS))
    kept = to_records(result.kept)
    assert len(kept) == 3 and not result.rejects
    assert [r["scores"]["decontam.ngram_overlap"] for r in kept] == [0.0, 1.0, 1.0]
    assert len(result.sidecars["hits"]) == 2


def test_min_overlap_ratio_spares_a_partial_match(bench_file: Path, tmp_path: Path) -> None:
    partial = rec("partial", "natalia sold clips to 48 of her friends in april and then she sold")
    result = step(bench_file, tmp_path, min_overlap=0.5).process(to_table([partial]))
    assert result.kept.num_rows == 1  # 2 of its 8 n-grams shared
    assert step(bench_file, tmp_path).process(to_table([partial])).kept.num_rows == 0


def test_second_setup_reads_the_cache(bench_file: Path, tmp_path: Path) -> None:
    assert step(bench_file, tmp_path).info()["cache_hits"] == []
    assert step(bench_file, tmp_path).info()["cache_hits"] == ["mybench:ngram"]
    assert list((tmp_path / "cache").glob("mybench-ngram-*.npz"))


def test_bad_options_are_clear_errors(bench_file: Path) -> None:
    with pytest.raises(InstructkitError, match="option 'benchmark'"):
        Decontaminate(benchmark=[])
    with pytest.raises(InstructkitError, match="option 'mode': expected one of"):
        Decontaminate(benchmark=[str(bench_file)], mode="drop")
    with pytest.raises(InstructkitError, match="must be at most"):
        Decontaminate(benchmark=[str(bench_file)], embedding_threshold=0.8, suspicious_band=0.9)
    with pytest.raises(InstructkitError, match="go together"):
        Decontaminate(benchmark=[str(bench_file)], judge_url="http://x")


def test_command_writes_output_rejects_summary_and_hits(bench_file: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in RECORDS))
    out = tmp_path / "out" / "data.jsonl"
    res = CliRunner().invoke(
        cli_app,
        [
            "decontaminate",
            str(src),
            "-o",
            str(out),
            "--benchmark",
            f"{bench_file}:question",
            "--embedding-model",
            "none",
            "--cache-dir",
            str(tmp_path / "c"),
        ],
    )
    assert res.exit_code == 0, res.output
    summary = orjson.loads((out.parent / "data.summary.json").read_bytes())
    assert (
        summary["records_in"] == 3
        and summary["records_out"] == 1
        and summary["rejected"] == {"contaminated": 2}
    )
    assert summary["steps"]["decontaminate"]["hits"]["mybench:ngram:contaminated"] == 2
    assert len((out.parent / "data.hits.jsonl").read_bytes().splitlines()) == 2
    assert len((out.parent / "data.rejects.jsonl").read_bytes().splitlines()) == 2


@pytest.mark.shared_data
def test_known_overlaps_in_shared_data_are_found_by_ngrams(
    shared_data: Path, tmp_path: Path
) -> None:
    """The issue's ground truth: IFEval prompts inside ifeval_gpt4_responses; GSM8K train is not test."""
    from instructkit.engines.local import run

    bench = shared_data / "benchmarks"
    cases = [
        (
            "ifeval_gpt4_responses",
            "ifeval",
            lambda s: s["rejected"].get("contaminated", 0) >= 0.99 * 541,
        ),
        (
            "gsm8k_train_alpaca_format",
            "gsm8k",
            lambda s: s["rejected"].get("contaminated", 0) <= 0.005 * 7473,
        ),
    ]
    for folder, name, ok in cases:
        s = Decontaminate(
            benchmark=[name], benchmark_dir=bench, embedding_model="none", cache_dir=tmp_path / "c"
        )
        summary = run(
            [str(shared_data / "instructions" / folder)], tmp_path / f"{folder}.jsonl", [s]
        )
        assert ok(summary), (folder, summary["rejected"])


def test_a_template_shared_by_many_items_gives_at_most_max_hits(tmp_path: Path) -> None:
    from instructkit.steps.decontaminate import MAX_HITS

    template = "the following paragraphs each describe a set of objects arranged in a fixed order"
    bench = tmp_path / "tpl.jsonl"
    bench.write_bytes(
        b"".join(
            orjson.dumps({"id": f"t{k}", "q": f"{template} item number {k} here"}) + b"\n"
            for k in range(MAX_HITS + 3)
        )
    )
    s = Decontaminate(benchmark=[f"{bench}:q"], embedding_model="none", no_cache=True)
    s.setup()
    result = s.process(to_table([rec("r", f"Read this: {template}.")]))
    assert result.kept.num_rows == 0
    assert len(result.sidecars["hits"]) == MAX_HITS


def test_zero_width_characters_do_not_hide_a_benchmark_item(
    bench_file: Path, tmp_path: Path
) -> None:
    """Probe D26: a benchmark question with a zero-width space between every letter is still found."""
    question = ITEMS[0]["question"]
    hidden = rec("hidden", "\u200b".join(question), "B")
    result = step(bench_file, tmp_path).process(to_table([hidden]))
    assert [r.reason for r in result.rejects] == ["contaminated"]


def test_exact_dedup_ignores_invisible_characters() -> None:
    from instructkit.text import normalize

    assert normalize("Na\u00adtalia\u200b sold clips") == normalize("Natalia sold clips")
