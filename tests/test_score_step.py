"""The score command as users run it: scores and meta written, nothing dropped, stats quantiles, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from instructkit.errors import InstructkitError
from instructkit.steps.score import ScoreConfig
from tests.helpers import cli, read_jsonl, write_jsonl

ROWS = [
    {
        "instruction": "Write a haiku about autumn.",
        "input": "",
        "output": "Leaves fall silently\nCrimson carpets on the ground\nAutumn whispers soft",
    },
    {
        "instruction": "Explain recursion with an example in Python, in at most 50 words.",
        "input": "",
        "output": "## Recursion\n\nA function that calls itself:\n\n```python\ndef f(n):\n    return 1 if n == 0 else n * f(n - 1)\n```",
    },
    {
        "instruction": "Translate to French.",
        "input": "Good morning",
        "output": "Bonjour tout le monde, comment allez-vous aujourd'hui ?",
    },
]


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "instructkit", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_score_command_writes_scores_and_is_deterministic(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    outs = []
    for name in ("a", "b"):
        res = cli(
            "score", src, "-o", tmp_path / f"{name}.jsonl", "--metrics", "complexity,safety,format"
        )
        assert res.exit_code == 0, res.output
        outs.append(read_jsonl(tmp_path / f"{name}.jsonl"))
    a, b = outs
    assert [r["scores"] for r in a] == [r["scores"] for r in b]
    assert len(a) == 3
    s0, s1 = a[0]["scores"], a[1]["scores"]
    assert 0 <= s0["complexity"] < s1["complexity"] < 1
    assert s1["format.code_blocks"] == 1 and s1["format.headers"] == 1
    assert s1["complexity.constraints"] >= 1  # "at most", "50 words"
    assert {"toxicity", "toxicity.user", "toxicity.assistant", "complexity.dep_depth_max"} <= set(
        s0
    )
    assert a[2]["meta"]["language"] == "fr" and a[2]["meta"]["input"] == "Good morning"
    summary = json.loads((tmp_path / "a.summary.json").read_text())
    assert summary["records_in"] == summary["records_out"] == 3 and summary["balanced"]
    assert summary["steps"]["score"]["rows_with_score"]["complexity"] == 3

    stats = cli("stats", tmp_path / "a.jsonl", "--json")
    assert stats.exit_code == 0
    (src_stats,) = json.loads(stats.stdout)["sources"].values()
    q = src_stats["scores"]["complexity"]
    assert q["n"] == 3 and q["p10"] <= q["p50"] <= q["p90"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": ("complexity", "beauty")}, "option 'metrics': expected one of"),
        ({"metrics": ("factual",)}, "needs reference"),
        ({"metrics": ("factual",), "reference": Path("r.jsonl")}, "exactly one judge"),
        (
            {"metrics": ("factual",), "reference": Path("r.jsonl"), "judge_url": "http://x/v1"},
            "needs judge-model",
        ),
    ],
)
def test_config_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(InstructkitError, match=message):
        ScoreConfig.from_config(kwargs)


def test_bad_metric_is_one_line_exit_2(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    res = run("score", src, "-o", tmp_path / "o.jsonl", "--metrics", "complexity,beauty")
    assert (
        res.returncode == 2 and "option 'metrics'" in res.stderr and "Traceback" not in res.stderr
    )


@pytest.mark.slow  # imports transformers in a fresh process
def test_unavailable_nli_model_is_one_line_exit_2(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    ref = Path(__file__).parent / "data" / "factual_reference.jsonl"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "instructkit",
            "score",
            str(src),
            "-o",
            str(tmp_path / "o.jsonl"),
            "--metrics",
            "factual",
            "--reference",
            str(ref),
            "--nli-model",
            "cross-encoder/nli-deberta-v3-xsmall",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert res.returncode == 2, res.stderr
    assert "no NLI model ships offline" in res.stderr and res.stderr.strip().count("\n") == 0


@pytest.mark.slow
def test_perplexity_and_factual_through_the_command(tmp_path: Path) -> None:
    """The whole path a user runs offline: a local llama.cpp server as judge, in-process perplexity."""
    from instructkit.llm.server import LocalServer

    rows = [
        {
            "instruction": "What is the capital of France?",
            "input": "",
            "output": "The capital of France is Paris. It lies on the river Seine.",
        },
        {"instruction": "Say hi.", "input": "", "output": "Hi there, nice to meet you!"},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    ref = Path(__file__).parent / "data" / "factual_reference.jsonl"
    with LocalServer() as srv:
        res = cli(
            "score",
            src,
            "-o",
            tmp_path / "o.jsonl",
            "--metrics",
            "perplexity,factual",
            "--reference",
            ref,
            "--judge-url",
            srv.base_url,
            "--judge-model",
            srv.model,
            "--evidence-k",
            "1",
            "--max-response-tokens",
            "32",
        )
    assert res.exit_code == 0, res.output
    a, b = read_jsonl(tmp_path / "o.jsonl")
    assert (
        a["scores"]["perplexity"] > 1
        and 0 < a["scores"]["ifd"]
        and a["scores"]["factual.claims"] == 2
    )
    assert [e["evidence"] for e in a["meta"]["factual"]] == [["geo-paris"], ["geo-paris"]]
    assert sum(
        a["scores"][f"factual.{v}"] for v in ("supported", "contradicted", "unverifiable")
    ) == pytest.approx(1)
    assert "factual.claims" in b["scores"] and b["meta"]["factual"][0]["verdict"] in (
        "unverifiable",
        "supported",
        "contradicted",
    )
    info = json.loads((tmp_path / "o.summary.json").read_text())["steps"]["score"]["factual"]
    assert info["passages"] == 30 and info["judge"] == "llm" and info["judge_usage"]["calls"] >= 2
