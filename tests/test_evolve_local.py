"""The whole method against the real offline server (llama.cpp on SmolLM2-135M-Instruct)."""

from __future__ import annotations

import socket
from pathlib import Path

import orjson
import pytest

from instructkit.engines.local import run
from instructkit.errors import MissingDependency
from instructkit.llm.server import LocalServer
from instructkit.models.paths import smollm2_gguf
from instructkit.steps.evolve import EvolveStep
from tests.evolve_fakes import write_seeds

pytest.importorskip("llama_cpp.server", reason="the local server needs llama-cpp-python[server]")
try:
    smollm2_gguf()
except MissingDependency as e:
    pytest.skip(f"the offline model is absent: {e}", allow_module_level=True)

REASONS = {
    "no_information_gain",
    "model_struggled",
    "stopword_response",
    "template_leak",
    "llm_failed",
}


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_server_starts_answers_and_stops() -> None:
    with LocalServer() as srv:
        port = srv.port
        assert port_open(port)
    assert not port_open(port), "the server outlived its context"


@pytest.mark.slow
def test_evolve_with_the_local_model(tmp_path: Path) -> None:
    seeds = [
        "List three fruits.",
        "Explain why the sky is blue.",
        "Write a short poem about the sea.",
    ]
    write_seeds(tmp_path / "seeds.jsonl", seeds)
    # the complexity report is tested on its own below (it loads spaCy)
    step = EvolveStep(
        rounds=2, seed=1, evolve_max_tokens=32, max_tokens=32,
        concurrency=2, cache=tmp_path / "cache.sqlite", complexity=False,
    )  # fmt: skip
    summary = run([str(tmp_path / "seeds.jsonl")], tmp_path / "out.jsonl", [step])
    out = [orjson.loads(x) for x in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    rejects = [orjson.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_bytes().splitlines()]
    report = summary["steps"]["evolve"]
    assert summary["balanced"] and summary["records_in"] == 3
    evolve_failures = sum(f["phase"] == "evolve" for f in report["failed_calls"])
    assert (
        summary["generated"] == sum(r["evolved"] for r in report["rounds"]) == 6 - evolve_failures
    )
    assert sum(1 for r in out if "lineage" not in r) == 3, "every seed is kept"
    for child in (r for r in out if "lineage" in r):
        assert child["lineage"]["model"] == "smollm2-135m-instruct" and child["lineage"][
            "round"
        ] in (1, 2)
        assert (
            child["messages"][0]["role"] == "user" and child["messages"][1]["role"] == "assistant"
        )
    assert {r["reason"] for r in rejects} <= REASONS
    assert report["llm"]["calls"] > 0 and report["llm"]["completion_tokens"] > 0
    assert report["rounds"][0]["mean_complexity_gain"] == "absent: not requested"


def child(rid: str, parent: str, r: int, text: str) -> dict:
    lineage = {"parent": parent, "round": r, "operation": "deepening", "model": "m"}
    return {
        "id": rid,
        "source": "s",
        "messages": [{"role": "user", "content": text}],
        "meta": {},
        "lineage": lineage,
    }


@pytest.mark.slow
def test_complexity_gain_compares_each_child_with_its_own_parent() -> None:
    pytest.importorskip("spacy")
    from instructkit.evolve.rounds import complexity_sums, round_rows

    seeds = [
        {
            "id": "a",
            "source": "s",
            "messages": [{"role": "user", "content": "List fruits."}],
            "meta": {},
        }
    ]
    r1 = "List ten exotic fruits and rank them by antioxidant content."
    r2 = ("List ten exotic fruits, rank them by antioxidant content, explain why each differs, "
          "and cite at least two studies that measured it in a table.")  # fmt: skip
    sums, absent = complexity_sums(
        seeds, [child("a.evol1", "a", 1, r1), child("a.evol2", "a.evol1", 2, r2)]
    )
    assert absent is None
    rows = round_rows({str(r): {"complexity": s} for r, s in sums.items()})
    gains = {row["round"]: row for row in rows}
    assert gains[1]["mean_complexity_gain"] > 0 and gains[2]["mean_complexity_gain"] > 0
    # round 2 is measured against round 1's child (its parent), not against the seed
    assert gains[2]["parent_complexity"] == gains[1]["child_complexity"]
