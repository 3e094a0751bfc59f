"""The shared LLM judge: a task's prompt and sampling go out, its parser reads the answer,
failures and unclear answers are counted (or stop the run when strict), and the cache is used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from instructkit.errors import InstructkitError
from instructkit.llm.judge import LLMJudge
from instructkit.score.factual import RESPONSE_FORMAT, llm_judge
from tests.fake_llm_server import FakeLLMServer


class ParityTask:
    """Is the number even?  A toy task: the judge must not care what it asks."""

    sampling = {"temperature": 0, "max_tokens": 2}

    def prompt(self, n: int) -> list[dict[str, str]]:
        return [{"role": "user", "content": f"Is {n} even?"}]

    def parse(self, answer: str) -> bool | None:
        return {"even": True, "odd": False}.get(answer.strip())


def parity(messages: list[dict[str, str]], body: dict[str, Any]) -> str:
    n = int(messages[-1]["content"].split()[1])
    return "maybe" if n == 3 else ("even" if n % 2 == 0 else "odd")


def test_prompt_sampling_parse_and_counters(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def responder(messages: list[dict[str, str]], body: dict[str, Any]) -> str:
        seen.append(body)
        return parity(messages, body)

    with FakeLLMServer(responder=responder, faults=["ok", "ok", "ok", "400"]) as srv:
        judge = LLMJudge(
            srv.base_url, "fake", ParityTask(), cache_path=tmp_path / "c.sqlite", concurrency=1
        )
        got = judge.judge([1, 2, 3, 4])
        assert got[:3] == [False, True, None] and got[3] is None
        assert judge.unclear == 1 and len(judge.failures) == 1 and "http_400" in judge.failures[0]
        assert all(b["temperature"] == 0 and b["max_tokens"] == 2 for b in seen)
        assert judge.judge([1, 2]) == [False, True] and srv.completed() == 3  # from the cache
    summary = judge.summary()
    assert summary["failed"] == 1 and summary["cached"] == 2 and summary["model"] == "fake"
    assert judge.judge([]) == []


def test_strict_judge_stops_with_one_line() -> None:
    with FakeLLMServer(responder=parity, faults=["400"]) as srv:
        judge = LLMJudge(srv.base_url, "fake", ParityTask(), strict=True)
        with pytest.raises(InstructkitError, match=r"^LLM judge at .* failed \(http_400\)") as e:
            judge.judge([2])
    assert "\n" not in str(e.value)


def test_claim_judge_sends_the_schema_and_reads_free_text_too() -> None:
    bodies: list[dict[str, Any]] = []

    def responder(messages: list[dict[str, str]], body: dict[str, Any]) -> str:
        bodies.append(body)
        return '{"verdict": "false"}' if "Nile" in messages[-1]["content"] else "True."

    pairs = [
        ("The Nile flows south.", ["The Nile flows north."]),
        ("Mars has two moons.", ["Mars has Phobos.", "Mars has Deimos."]),
    ]
    with FakeLLMServer(responder=responder) as srv:
        structured = llm_judge(srv.base_url, "fake")
        assert structured.judge(pairs) == ["contradicted", "supported"]
        assert llm_judge(srv.base_url, "fake", structured=False).judge(pairs[1:]) == ["supported"]
    assert [b.get("response_format") for b in bodies] == [RESPONSE_FORMAT] * 2 + [None]
    two = next(b for b in bodies if "Phobos" in b["messages"][0]["content"])
    assert "[1] Mars has Phobos.\n[2] Mars has Deimos." in two["messages"][0]["content"]
