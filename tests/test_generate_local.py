"""Self-Instruct end to end against the real offline server (llama.cpp on SmolLM2-135M-Instruct)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from instructkit.errors import MissingDependency
from instructkit.generate.filters import REASONS
from instructkit.models.paths import smollm2_gguf

pytest.importorskip("llama_cpp.server", reason="the local server needs llama-cpp-python[server]")
try:
    smollm2_gguf()
except MissingDependency as e:
    pytest.skip(f"the offline model is absent: {e}", allow_module_level=True)

SEEDS = "instructions/self_instruct_seed_tasks/seed_tasks.jsonl"
OTHER = {"seed_not_kept", "surplus", "no_instance", "llm_failed"}


@pytest.mark.slow
@pytest.mark.shared_data
def test_the_real_offline_model_end_to_end_with_books_balanced(
    tmp_path: Path, shared_data: Path
) -> None:
    """The whole path on the embedded 135M model, bounded to four requests so CI stays short.

    The real server, parsing, filters, classification, instances (and outputs asked on their own)
    and accounting.  Four requests give the 135M model a dozen candidates, enough for 3 records
    on this machine (docs/generate.md: N = 20 took 2 rounds of 8); at least one is required, so
    a change that breaks the small model's path (prompts, parsing) fails here, not only in a demo."""
    out = tmp_path / "out.jsonl"
    cmd = [
        sys.executable, "-m", "instructkit", "generate", str(shared_data / SEEDS), "-o", str(out),
        "-n", "3", "--max-requests", "4", "--instruction-max-tokens", "256", "--max-tokens", "160",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1500, check=False)
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(out.with_name("out.summary.json").read_bytes())
    records = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    rejects = [
        orjson.loads(x) for x in out.with_name("out.rejects.jsonl").read_bytes().splitlines()
    ]
    assert summary["balanced"] and summary["records_in"] == 175
    assert 1 <= len(records) <= 3, summary["steps"]["generate"]
    assert summary["records_in"] + summary["generated"] == len(records) + len(rejects)
    assert {r["reason"] for r in rejects} <= set(REASONS) | OTHER
    for rec in records:
        assert rec["lineage"]["model"] == "smollm2-135m-instruct"
        assert set(rec["lineage"]["in_context"]) and rec["lineage"]["method"] == "self_instruct"
        assert [m["role"] for m in rec["messages"]] == ["user", "assistant"]
        assert rec["messages"][1]["content"].strip()
        assert rec["meta"]["output_from"] in {"example", "respond"}
