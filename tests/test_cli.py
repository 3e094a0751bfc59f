"""The command line as scripts see it: exit codes, one-line errors, files beside OUTPUT."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import cli, write_jsonl

ROWS = [
    {"instruction": "Say hi.", "input": "", "output": "Hi!"},
    {"instruction": "Count to two.", "input": "", "output": "1, 2"},
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "instructkit", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_convert_writes_output_rejects_and_summary(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ROWS)
    (tmp_path / "a.jsonl").open("a").write("{broken\n")
    res = cli("convert", src, "-o", tmp_path / "out" / "data.jsonl")
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "out" / "data.summary.json").read_text())
    assert (
        summary["records_in"] == 3
        and summary["records_out"] == 2
        and summary["rejected"] == {"invalid_json": 1}
    )
    assert (tmp_path / "out" / "data.rejects.jsonl").read_text().count("\n") == 1


def test_custom_sidecar_paths_and_to(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ROWS)
    res = cli(
        "convert",
        src,
        "-o",
        tmp_path / "o.json",
        "--to",
        "sharegpt",
        "--rejects",
        tmp_path / "r.jsonl",
        "--summary",
        tmp_path / "s.json",
    )
    assert res.exit_code == 0
    assert json.loads((tmp_path / "o.json").read_text())[0]["conversations"][0] == {
        "from": "human",
        "value": "Say hi.",
    }
    assert (tmp_path / "r.jsonl").exists() and (tmp_path / "s.json").exists()


def test_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    res = run("convert", tmp_path / "nope.jsonl", "-o", tmp_path / "o.jsonl")
    assert res.returncode == 2
    assert (
        res.stderr.strip().count("\n") == 0
        and "no such file" in res.stderr
        and "Traceback" not in res.stderr
    )
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"instruction": "x", "output": "y"}\n{oops\n')
    strict = run("convert", bad, "-o", tmp_path / "o.jsonl", "--strict")
    assert (
        strict.returncode == 2 and "invalid_json" in strict.stderr and f"{bad}:2" in strict.stderr
    )
    assert "Traceback" not in strict.stderr
    usage = run("convert", bad, "-o", tmp_path / "o.txt")
    assert usage.returncode == 2 and "must end in" in usage.stderr
    debug = run("convert", tmp_path / "nope.jsonl", "-o", tmp_path / "o.jsonl", "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_stats_json(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ROWS)
    res = run("stats", src, "--json")
    assert res.returncode == 0, res.stderr
    stats = json.loads(res.stdout)["sources"]["a"]
    assert (
        stats["records"] == 2
        and stats["empty_input_share"] == 1.0
        and stats["instruction_tokens_mean"] == 2.5
    )
    table = cli("stats", src)
    assert table.exit_code == 0 and "user 2, assistant 2" in table.output


def test_demo_example_converts(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples" / "data"
    res = cli("convert", examples, "-o", tmp_path / "demo.jsonl")
    assert res.exit_code == 0
    summary = json.loads((tmp_path / "demo.summary.json").read_text())
    assert summary["balanced"] and len(summary["formats"]) == 7
    # The deliberate quirks: a cut-off line, an empty conversation, an empty turn (the row with
    # no output is an instruction-only record).
    assert summary["rejected"] == {
        "empty_conversation": 1,
        "empty_turn": 1,
        "invalid_json": 1,
    }
