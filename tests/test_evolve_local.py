"""The whole method against the real offline server (llama.cpp on SmolLM2-135M-Instruct)."""

from __future__ import annotations

import socket
from pathlib import Path

import orjson
import pytest

from instructkit.engines.local import run
from instructkit.errors import MissingDependency
from instructkit.evolve.engine import EvolveConfig
from instructkit.llm.server import LocalServer
from instructkit.models.paths import smollm2_gguf
from instructkit.steps.evolve import EvolveStep
from tests.evolve_fakes import write_seeds

pytest.importorskip("llama_cpp.server", reason="the local server needs llama-cpp-python[server]")
try:
    smollm2_gguf()
except MissingDependency as e:
    pytest.skip(f"the offline model is absent: {e}", allow_module_level=True)

REASONS = {"no_information_gain", "model_struggled", "stopword_response", "template_leak", "llm_failed"}


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
    seeds = ["List three fruits.", "Explain why the sky is blue.", "Write a short poem about the sea."]
    write_seeds(tmp_path / "seeds.jsonl", seeds)
    step = EvolveStep(config=EvolveConfig(rounds=2, seed=1, evolve_max_tokens=48, respond_max_tokens=48),
                      concurrency=2, cache=tmp_path / "cache.sqlite")  # fmt: skip
    summary = run([str(tmp_path / "seeds.jsonl")], tmp_path / "out.jsonl", [step])
    out = [orjson.loads(x) for x in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    rejects = [orjson.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_bytes().splitlines()]
    report = summary["steps"]["evolve"]
    assert summary["balanced"] and summary["records_in"] == 3
    evolve_failures = sum(f["phase"] == "evolve" for f in report["failed_calls"])
    assert summary["generated"] == sum(r["evolved"] for r in report["rounds"]) == 6 - evolve_failures
    assert sum(1 for r in out if "lineage" not in r) == 3, "every seed is kept"
    for child in (r for r in out if "lineage" in r):
        assert child["lineage"]["model"] == "smollm2-135m-instruct" and child["lineage"]["round"] in (1, 2)
        assert child["messages"][0]["role"] == "user" and child["messages"][1]["role"] == "assistant"
    assert {r["reason"] for r in rejects} <= REASONS
    assert report["llm"]["calls"] > 0 and report["llm"]["completion_tokens"] > 0
    gain = report["rounds"][0]["mean_complexity_gain"]
    assert isinstance(gain, float) or gain.startswith("absent")
