"""Resume after SIGKILL: the rerun repeats no completed call and writes what an uninterrupted run writes."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.evolve_fakes import SEEDS, evolve_responder, write_seeds
from tests.fake_llm_server import FakeLLMServer, kill_mid_flight

pytest.importorskip("openai")

SEED_TEXTS = SEEDS + [f"Describe the city number {i} of a fictional country." for i in range(6)]
#: 12 lineages x 2 rounds x (evolve, respond, equality): every call the run makes.
TOTAL_CALLS = len(SEED_TEXTS) * 2 * 3


def command(src: Path, out: Path, srv: FakeLLMServer) -> list[str]:
    return [
        sys.executable, "-m", "instructkit", "evolve", str(src), "-o", str(out),
        "--base-url", srv.base_url, "--model", "fake", "--rounds", "2", "--seed", "7",
        "--concurrency", "4", "--timeout", "3", "--max-retries", "2", "--cache", str(out.with_suffix(".sqlite")),
        "--no-complexity",
    ]  # fmt: skip


def run_to_end(src: Path, out: Path, srv: FakeLLMServer) -> None:
    done = subprocess.run(
        command(src, out, srv), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_sigkill_halfway_then_rerun(tmp_path: Path) -> None:
    src = tmp_path / "seeds.jsonl"
    write_seeds(src, SEED_TEXTS)
    out = tmp_path / "resumed" / "out.jsonl"
    out.parent.mkdir()
    half = TOTAL_CALLS // 2
    # 1. The first run: after `half` answers the server holds every request, and the run is killed mid-flight.
    with FakeLLMServer(responder=evolve_responder, hang_after=half, max_wait=60) as first:
        waiting = kill_mid_flight(command(src, out, first), first, half)
    assert waiting >= 1, "no call was in flight at the kill"
    assert not out.exists()
    # 2. The rerun, against a healthy server.
    with FakeLLMServer(responder=evolve_responder) as second:
        run_to_end(src, out, second)
    answered = Counter(first.completed_keys() + second.completed_keys())
    assert len(answered) == TOTAL_CALLS
    assert max(answered.values()) == 1, "a completed call was made again"
    assert len(second.completed_keys()) == TOTAL_CALLS - half
    # 3. An uninterrupted run with the same seed writes the same output.
    straight = tmp_path / "straight" / "out.jsonl"
    straight.parent.mkdir()
    with FakeLLMServer(responder=evolve_responder) as third:
        run_to_end(src, straight, third)
    assert out.read_bytes() == straight.read_bytes()
    assert (
        out.with_name("out.rejects.jsonl").read_bytes()
        == straight.with_name("out.rejects.jsonl").read_bytes()
    )
