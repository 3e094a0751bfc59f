"""Evol-Instruct against the deterministic fake LLM: the method, the books, the faults, the options."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from instructkit.engines.local import run
from instructkit.errors import InstructkitError
from instructkit.evolve import elimination as elim
from instructkit.evolve.operations import OPERATIONS, Templates, choose_operation
from instructkit.steps.evolve import EvolveStep
from tests.evolve_fakes import MARKED, SEEDS, evolve_responder, write_seeds
from tests.fake_llm_server import FakeLLMServer

pytest.importorskip("openai")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def evolve(tmp_path: Path, srv: FakeLLMServer, seeds: list[str], name: str = "out", with_output: bool = True,
           **config: Any) -> tuple[dict[str, Any], list[dict], list[dict]]:  # fmt: skip
    src = tmp_path / "seeds.jsonl"
    write_seeds(src, seeds, with_output)
    out = tmp_path / f"{name}.jsonl"
    opts = {"rounds": 2, "seed": 0, "timeout": 1.0} | config
    templates = opts.pop("templates", None)
    step = EvolveStep(
        base_url=srv.base_url, model="fake", concurrency=4,
        max_retries=4, cache=tmp_path / f"{name}.cache.sqlite", templates=templates, complexity=False,
        client_options={"backoff_initial": 0.01, "backoff_max": 0.05},  # tests wait milliseconds
        **opts,
    )  # fmt: skip
    summary = run([str(src)], out, [step])
    return summary, read_jsonl(out), read_jsonl(tmp_path / f"{name}.rejects.jsonl")


def test_the_method_end_to_end(tmp_path: Path) -> None:
    with FakeLLMServer(responder=evolve_responder) as srv:
        summary, out, rejects = evolve(tmp_path, srv, SEEDS + MARKED)
    assert summary["balanced"] and summary["records_in"] == 11
    by_id = {r["id"]: r for r in out}
    # ordinary seeds evolve twice, each child's parent being the previous survivor
    for seed in [
        r
        for r in out
        if "lineage" not in r
        and not any(
            m in r["messages"][0]["content"] for m in ("LEAK", "SAME", "HARD", "STOP", "JUDGE")
        )
    ]:
        c1, c2 = by_id[f"{seed['id']}.evol1"], by_id[f"{seed['id']}.evol2"]
        assert c1["lineage"]["parent"] == seed["id"] and c1["lineage"]["round"] == 1
        assert c2["lineage"]["parent"] == c1["id"] and c2["lineage"]["round"] == 2
        assert c2["messages"][0]["content"].startswith(c1["messages"][0]["content"])
        assert c2["messages"][1]["role"] == "assistant" and c2["lineage"]["model"] == "fake"
        assert c1["lineage"]["operation"] in OPERATIONS
    reasons = Counter(r["reason"] for r in rejects)
    # each marked seed fails in both rounds (its parent stays in the pool and is tried again)
    assert reasons == {
        "template_leak": 2,
        "no_information_gain": 4,
        "model_struggled": 2,
        "stopword_response": 2,
    }
    assert all(r["step"] == "evolve" and r["record"]["lineage"]["round"] in (1, 2) for r in rejects)
    rounds = summary["steps"]["evolve"]["rounds"]
    assert [r["evolved"] for r in rounds] == [11, 11] and [r["survived"] for r in rounds] == [6, 6]
    assert rounds[0]["mean_complexity_gain"].startswith("absent")
    assert summary["generated"] == 22 and summary["records_out"] == 11 + 12


def test_duplicate_seeds_become_separate_lineages(tmp_path: Path) -> None:
    with FakeLLMServer(responder=evolve_responder) as srv:
        summary, out, _ = evolve(tmp_path, srv, [SEEDS[0], SEEDS[0]], rounds=1)
    children = [r for r in out if "lineage" in r]
    assert len(children) == 2 and len({c["id"] for c in children}) == 2
    assert children[0]["messages"] != children[1]["messages"], "the copies drew the same call"
    assert summary["balanced"]


def test_rerun_uses_the_cache_and_repeats_nothing(tmp_path: Path) -> None:
    with FakeLLMServer(responder=evolve_responder) as srv:
        _, first, _ = evolve(tmp_path, srv, SEEDS[:3])
        n = srv.completed()
        summary, again, _ = evolve(tmp_path, srv, SEEDS[:3])
        assert srv.completed() == n, "a rerun with the cache made new calls"
    assert again == first and summary["steps"]["evolve"]["llm"]["cached"] == n


@pytest.mark.parametrize("fault", ["429", "500", "timeout", "malformed", "empty"])
def test_transient_faults_change_nothing(tmp_path: Path, fault: str) -> None:
    (tmp_path / "clean").mkdir()
    with FakeLLMServer(responder=evolve_responder) as clean:
        _, expected, _ = evolve(tmp_path / "clean", clean, SEEDS[:3])
    with FakeLLMServer(
        responder=evolve_responder, faults=[fault] * 3, retry_after=0.05, timeout_delay=4.0
    ) as srv:
        # A hung call is given up after 2.5 s; that much room keeps a loaded machine's answers in time.
        summary, out, _ = evolve(tmp_path, srv, SEEDS[:3], timeout=2.5)
    assert out == expected
    assert (
        summary["steps"]["evolve"]["llm"]["retries"] == 3
        and not summary["steps"]["evolve"]["failed_calls"]
    )


def test_a_server_that_dies_mid_run_loses_nothing(tmp_path: Path) -> None:
    with FakeLLMServer(responder=evolve_responder, die_after=7) as srv:
        summary, out, rejects = evolve(tmp_path, srv, SEEDS)
    assert summary["balanced"]
    failed = summary["steps"]["evolve"]["failed_calls"]
    assert failed and all(f["kind"] == "connection" for f in failed)
    # every seed is in the output; every child made is an output or a reject; every lost call is on record
    seeds_out = {r["id"] for r in out if "lineage" not in r}
    assert len(seeds_out) == len(SEEDS)
    lineages_done = {r["record"]["meta"]["seed_id"] for r in rejects} | {
        r["meta"]["seed_id"] for r in out if "lineage" in r
    }
    assert lineages_done | {f["record"] for f in failed} == seeds_out
    assert all(r["reason"] == "llm_failed" for r in rejects)


def test_no_keep_seeds_rejects_them_with_a_reason(tmp_path: Path) -> None:
    with FakeLLMServer(responder=evolve_responder) as srv:
        summary, out, rejects = evolve(tmp_path, srv, SEEDS[:2], rounds=1, keep_seeds=False)
    assert all("lineage" in r for r in out) and len(out) == 2
    assert [r["reason"] for r in rejects] == ["seed_not_kept"] * 2 and summary["balanced"]


def test_respond_alone_answers_instructions(tmp_path: Path) -> None:
    with FakeLLMServer(responder=evolve_responder) as srv:
        summary, out, _ = evolve(
            tmp_path, srv, SEEDS[:3], with_output=False, rounds=0, respond=True
        )
    assert [r["messages"][1]["content"] for r in out] == [
        f"A careful answer: {s}" for s in SEEDS[:3]
    ]
    assert summary["generated"] == 0 and summary["records_out"] == 3


def test_templates_can_be_overridden(tmp_path: Path) -> None:
    custom = tmp_path / "tpl"
    custom.mkdir()
    (custom / "deepening.txt").write_text(
        "DEEPER PLEASE\n#Given Prompt#:\n{instruction}\n\n#Rewritten Prompt#:\n"
    )
    seen: list[str] = []

    def spy(messages: list[dict[str, str]], body: dict[str, Any]) -> str:
        seen.append(messages[-1]["content"])
        return evolve_responder(messages, body)

    with FakeLLMServer(responder=spy) as srv:
        evolve(tmp_path, srv, SEEDS, rounds=1, templates=custom)
    # with seed 0 the six seeds draw deepening and other operations: the override replaces only its file
    assert any(p.startswith("DEEPER PLEASE") for p in seen)
    assert any(p.startswith("You make instructions") for p in seen)


def test_a_template_without_its_placeholder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "concretizing.txt").write_text("no placeholder here")
    with pytest.raises(InstructkitError, match="lacks the placeholder"):
        Templates.load(tmp_path)


def test_operation_choice_is_seeded_and_covers_all_six() -> None:
    picks = [choose_operation(0, f"id{i}", 1) for i in range(300)]
    assert picks == [choose_operation(0, f"id{i}", 1) for i in range(300)]
    assert set(picks) == set(OPERATIONS)
    assert picks != [choose_operation(1, f"id{i}", 1) for i in range(300)]


@pytest.mark.parametrize(
    ("text", "leak"),
    [("#Rewritten Prompt#: list fruits", "#Rewritten Prompt#"), ("Rewrite the given prompt", "given prompt"),
     ("The person is: E. O. Taylor\n#Generated Prompt#: x", "#Generated Prompt#"),
     ("Original Prompt: name a bird", "Original Prompt"),
     ("List ten exotic fruits by antioxidant content.", None)],
)  # fmt: skip
def test_template_leak(text: str, leak: str | None) -> None:
    assert elim.template_leak(text) == leak


def test_struggle_needs_a_short_apology() -> None:
    assert elim.struggled("Sorry, I cannot do that.") == "Sorry"
    assert elim.struggled("I'm unable to access the internet.") is not None
    assert elim.struggled("Paris is the capital of France.") is None
    assert elim.struggled("Sorry for the wait. " + "word " * 100) is None


def test_stopwords_only() -> None:
    assert elim.stopwords_only("It is what it is.") is True
    assert elim.stopwords_only("?!") is True
    assert elim.stopwords_only("Bananas are yellow.") is False


def test_parse_equality() -> None:
    assert elim.parse_equality("Equal") is True
    assert elim.parse_equality("Not Equal.") is False
    assert elim.parse_equality("different") is False
    assert elim.parse_equality("I think so") is None


def test_cli_prints_the_round_table_and_writes_the_sidecars(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from instructkit.cli.app import app

    write_seeds(tmp_path / "seeds.jsonl", SEEDS[:2] + MARKED[:1])
    out = tmp_path / "out" / "evolved.jsonl"
    with FakeLLMServer(responder=evolve_responder) as srv:
        result = CliRunner().invoke(app, [
            "evolve", str(tmp_path / "seeds.jsonl"), "-o", str(out), "--base-url", srv.base_url,
            "--model", "fake", "--rounds", "1", "--no-complexity",
        ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "evolve rounds (fake)" in result.output and "template_leak 1" in result.output
    summary = orjson.loads((tmp_path / "out" / "evolved.summary.json").read_bytes())
    assert summary["balanced"] and (tmp_path / "out" / "evolved.llm-cache.sqlite").is_file()
    assert (
        len(read_jsonl(out)) == 5
        and len(read_jsonl(tmp_path / "out" / "evolved.rejects.jsonl")) == 1
    )
