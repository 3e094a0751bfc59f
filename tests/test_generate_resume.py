"""Resume after SIGKILL: the rerun repeats no completed call and writes what an uninterrupted run writes."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.fake_llm_server import FakeLLMServer, kill_mid_flight
from tests.generate_fakes import self_instruct_responder, write_seed_tasks

pytest.importorskip("openai")


def command(src: Path, out: Path, srv: FakeLLMServer) -> list[str]:
    return [
        sys.executable, "-m", "instructkit", "generate", str(src), "-o", str(out), "-n", "12",
        "--base-url", srv.base_url, "--model", "fake", "--seed", "7", "--requests-per-round", "3",
        "--concurrency", "3", "--timeout", "3", "--max-retries", "2",
    ]  # fmt: skip


def run_to_end(src: Path, out: Path, srv: FakeLLMServer) -> None:
    done = subprocess.run(
        command(src, out, srv), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_sigkill_halfway_then_rerun(tmp_path: Path) -> None:
    src = tmp_path / "seeds.jsonl"
    write_seed_tasks(src)
    # 0. An uninterrupted run: its output, and every call a run makes.
    straight = tmp_path / "straight" / "out.jsonl"
    straight.parent.mkdir()
    with FakeLLMServer(responder=self_instruct_responder) as srv:
        run_to_end(src, straight, srv)
        total = srv.completed()
    assert total > 10
    half = total // 2
    out = tmp_path / "resumed" / "out.jsonl"
    out.parent.mkdir()
    # 1. After `half` answers the server holds every request, and the run is killed mid-flight.
    with FakeLLMServer(responder=self_instruct_responder, hang_after=half, max_wait=60) as first:
        waiting = kill_mid_flight(command(src, out, first), first, half)
    assert waiting >= 1, "no call was in flight at the kill"
    assert not out.exists()
    # 2. The rerun, against a healthy server: only the calls not yet answered.
    with FakeLLMServer(responder=self_instruct_responder) as second:
        run_to_end(src, out, second)
    answered = Counter(first.completed_keys() + second.completed_keys())
    assert len(answered) == total
    assert max(answered.values()) == 1, "a completed call was made again"
    assert len(second.completed_keys()) == total - half
    # 3. The same records and rejects as the uninterrupted run.
    assert out.read_bytes() == straight.read_bytes()
    assert (
        out.with_name("out.rejects.jsonl").read_bytes()
        == straight.with_name("out.rejects.jsonl").read_bytes()
    )
