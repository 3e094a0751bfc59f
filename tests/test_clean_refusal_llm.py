"""clean's LLM refusal judge (``--judge-url``): only turns a refusal opener fires on are asked,
in rounds per record; its verdict decides; a failed call falls back to the built-in judge and the
reject says so; a rerun is answered from the cache.  The server is a fake (protocol, not quality:
docs/cleaning.md has what a real model scored)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from instructkit.clean.refusal_llm import REPLY_CHARS, RefusalTask, verdict
from instructkit.errors import InstructkitError
from instructkit.steps.clean import CleanConfig
from tests.fake_llm_server import FakeLLMServer
from tests.helpers import ik, read_jsonl, write_jsonl

REFUSAL = "I'm sorry, but I cannot help with that."


def conv(*turns: str) -> dict[str, Any]:
    roles = ("user", "assistant")
    return {"messages": [{"role": roles[k % 2], "content": t} for k, t in enumerate(turns)]}


ROWS = [
    # the LLM reads the request and calls it an answer; the built-in judge would drop it
    {"id": "kept", **conv("Can you write my essay?", REFUSAL)},
    {"id": "refused", **conv("Please REFUSE-ME write a poem.", REFUSAL)},
    # no opener: never asked
    {"id": "plain", **conv("Name a colour.", "Blue is a colour.")},
    # the first opener is an answer, the second a refusal: asked twice, dropped at turn 3
    {"id": "second", **conv("Tell me a joke.", REFUSAL, "REFUSE-ME now, another one.", REFUSAL)},
]


def llm(messages: list[dict[str, str]], body: dict[str, Any]) -> str:
    request = messages[-1]["content"].split("REPLY (")[0]
    return "Refusal." if "REFUSE-ME" in request else "answer"


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, *more: str) -> dict[str, Any]:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    code, _, err = ik(
        capsys, "clean", src, "-o", out, "--profile", "fast", "--pii", "off",
        "--judge-url", url, "--judge-model", "fake", *more,
    )  # fmt: skip
    assert code == 0, err
    return json.loads((tmp_path / "out.summary.json").read_text())


def test_llm_decides_only_where_an_opener_fires_in_rounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeLLMServer(responder=llm) as srv:
        summary = run(tmp_path, capsys, srv.base_url)
        assert srv.completed() == 4  # kept 1, refused 1, second 2, plain 0
    kept = {r["id"] for r in read_jsonl(tmp_path / "out.jsonl")}
    assert kept == {"kept", "plain"}
    rejects = {r["record"]["id"]: r for r in read_jsonl(tmp_path / "out.rejects.jsonl")}
    assert rejects["refused"]["reason"] == "refusal"
    assert (
        "the LLM judge fake read the request and the reply: refusal"
        in (rejects["refused"]["detail"])
    )
    assert "in turn 3 (assistant)" in rejects["second"]["detail"]
    judge = summary["steps"]["clean"]["refusal_judge"]
    assert judge["calls"] == 4 and judge["failed"] == 0
    assert summary["steps"]["clean"]["rules"]["refusal_judge_asked:llm"] == 4

    # a rerun is answered from the cache beside the output: no call completes
    with FakeLLMServer(responder=llm) as srv:
        run(tmp_path, capsys, srv.base_url)
        assert srv.completed() == 0
    assert {r["id"] for r in read_jsonl(tmp_path / "out.jsonl")} == kept


def test_failed_call_falls_back_to_the_builtin_judge_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # one request at a time, so the first call (record "kept") is the one that fails
    with FakeLLMServer(responder=llm, faults=["400"]) as srv:
        url = srv.base_url.replace("http://", "http://user:hunter2@")
        summary = run(tmp_path, capsys, url, "--judge-concurrency", "1")
    assert "hunter2" not in (tmp_path / "out.summary.json").read_text()  # credentials stay out
    rejects = {r["record"]["id"]: r for r in read_jsonl(tmp_path / "out.rejects.jsonl")}
    # the built-in judge drops the bare "I cannot help" reply the LLM was not heard on
    assert set(rejects) == {"kept", "refused", "second"}
    assert "the LLM judge gave no verdict" in rejects["kept"]["detail"]
    assert "judge p=" in rejects["kept"]["detail"]
    assert "the LLM judge gave no verdict" not in rejects["refused"]["detail"]
    clean = summary["steps"]["clean"]
    assert clean["refusal_judge"]["failed"] == 1
    assert clean["rules"]["refusal_judge_fallback:builtin"] == 1


def test_a_judge_that_answers_nothing_stops_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    with FakeLLMServer(responder=llm, faults=["400"] * 10) as srv:
        code, _, err = ik(
            capsys, "clean", src, "-o", tmp_path / "out.jsonl", "--profile", "fast",
            "--pii", "off", "--judge-url", srv.base_url, "--judge-model", "fake",
        )  # fmt: skip
    assert code == 2 and "answered none of the first" in err and err.count("\n") == 1


def test_nothing_listening_stops_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from instructkit.llm.server import free_port

    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    t0 = time.perf_counter()
    code, _, err = ik(
        capsys, "clean", src, "-o", tmp_path / "out.jsonl", "--profile", "fast", "--pii", "off",
        "--judge-url", f"http://127.0.0.1:{free_port()}/v1", "--judge-model", "m",
    )  # fmt: skip
    assert code == 2 and "cannot reach the LLM server" in err and err.count("\n") == 1
    assert time.perf_counter() - t0 < 10  # not after every call's retries (25 s before)


def test_verdict_and_prompt() -> None:
    assert verdict("Refusal.") is True and verdict("**Answer**") is False
    assert verdict("yes") is True and verdict("It depends") is None and verdict("") is None
    assert verdict("<think>Is it an answer? It declines.</think>\n\nRefusal") is True
    assert verdict("<think>It is an answer, or a refusal") is None  # cut before the verdict
    assert RefusalTask(64).sampling["max_tokens"] == 64
    task = RefusalTask()
    long_reply = "x" * (REPLY_CHARS + 100)
    (msg,) = task.prompt(("Write a poem.", long_reply))
    assert "Write a poem." in msg["content"] and "x" * REPLY_CHARS + " [...]" in msg["content"]
    assert "(none)" in task.prompt(("", "Hello"))[0]["content"]
    assert task.sampling["temperature"] == 0


def test_credentials_leave_shared_files_but_not_the_config_engines_rebuild_from() -> None:
    url = "http://user:hunter2@host:8000/v1"
    config = CleanConfig.from_config({"judge-url": url, "judge-model": "m"})
    assert config.to_mapping()["judge-url"] == url  # a Ray worker builds the same step from it
    assert CleanConfig.from_config(config.to_mapping()) == config
    assert config.public_mapping()["judge-url"] == "http://***@host:8000/v1"


def test_judge_url_needs_a_model() -> None:
    with pytest.raises(InstructkitError, match="judge-url and judge-model go together"):
        CleanConfig.from_config({"judge-url": "http://localhost:8000/v1"})


@pytest.mark.slow
def test_against_the_real_offline_server(tmp_path: Path) -> None:
    """The HTTP path against llama.cpp's real server (SmolLM2-135M): every opener turn is asked
    once, and whatever the small model answers, each record ends kept or rejected with a reason."""
    pytest.importorskip(
        "llama_cpp.server", reason="the local server needs llama-cpp-python[server]"
    )
    from instructkit.engines.local import run as run_engine
    from instructkit.errors import MissingDependency
    from instructkit.llm.server import LocalServer
    from instructkit.models.paths import smollm2_gguf
    from instructkit.steps.clean import CleanStep

    try:
        smollm2_gguf()
    except MissingDependency as e:
        pytest.skip(f"the offline model is absent: {e}")
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    with LocalServer() as srv:
        step = CleanStep(
            profile="fast", pii="off", judge_url=srv.base_url, judge_model=srv.model,
            judge_concurrency=1,
        )  # fmt: skip
        step.output = out
        summary = run_engine([str(src)], out, [step])
    clean = summary["steps"]["clean"]
    assert summary["balanced"] and summary["records_in"] == len(ROWS)
    asked = clean["rules"]["refusal_judge_asked:llm"]
    assert 3 <= asked <= 4 and clean["refusal_judge"]["answered"] == asked
    assert clean["refusal_judge"]["failed"] == 0
    kept = len(read_jsonl(out))
    assert kept + len(read_jsonl(tmp_path / "out.rejects.jsonl")) == len(ROWS)
