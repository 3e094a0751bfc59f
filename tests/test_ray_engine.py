"""The Ray engine on a real two-node Ray cluster (a head and a worker node on loopback, started
here and stopped here): every file of the run directory as the local engine writes it, a worker
node killed mid-run, and one clear line when the cluster cannot be reached."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from instructkit.io.read import ReadOptions
from instructkit.io.write import RecordWriter
from instructkit.recipe import load, run_recipe
from instructkit.schema import to_records, to_table
from instructkit.steps.dedup import Dedup
from tests.helpers import write_jsonl
from tests.test_dedup_partitioned import planted
from tests.test_recipe import rows

pytest.importorskip("ray.data")

ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
NODE = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--object-store-memory=200000000",
        "--disable-usage-stats", "--block"]  # fmt: skip
#: The environment of the nodes and of the drivers: this code; no token (a loopback-only cluster).
ENV = os.environ | {"PYTHONPATH": str(ROOT / "src"), "RAY_AUTH_MODE": "disabled"}
WAIT_FOR_NODES = """
import sys, time, ray
ray.init(address=sys.argv[1], log_to_driver=False)
deadline = time.monotonic() + 180
while sum(n["Alive"] for n in ray.nodes()) < 2:
    assert time.monotonic() < deadline, "the worker node did not join"
    time.sleep(0.5)
"""


@dataclass
class LoopbackCluster:
    """A head node and one worker node (one CPU each) on this machine, each a ``ray start --block``
    process in its own process group: stopping a group stops only what this test started.

    Ray turns ``--node-ip-address=127.0.0.1`` into the host's own address
    (``services.resolve_ip_for_localhost``), so the nodes talk over this machine's interface."""

    address: str
    head: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]

    def kill_worker(self) -> None:
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _node(args: list[str], tmp: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([RAY, "start", *args, *NODE, f"--temp-dir={tmp}"],
                            env=ENV | {"RAY_worker_niceness": "0"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip


@pytest.fixture(scope="module")
def cluster() -> Iterator[LoopbackCluster]:
    tmp = tempfile.mkdtemp(prefix="ikr-")  # short: Unix socket paths stay under 108 characters
    address = f"127.0.0.1:{_free_port()}"
    head = _node(
        ["--head", f"--port={address.rsplit(':', 1)[1]}", "--include-dashboard=false"], tmp
    )
    nodes = [head]
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                socket.create_connection(("127.0.0.1", int(address.rsplit(":", 1)[1])), 1).close()
                break
            except OSError:
                assert head.poll() is None and time.monotonic() < deadline, "the head did not start"
                time.sleep(0.5)
        nodes.append(_node([f"--address={address}"], tmp))
        wait = subprocess.run([sys.executable, "-c", WAIT_FOR_NODES, address], timeout=240,
                              capture_output=True, text=True, env=ENV)  # fmt: skip
        assert wait.returncode == 0, wait.stderr[-2000:]
        yield LoopbackCluster(address, head, nodes[1])
    finally:
        for node in reversed(nodes):
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGTERM)
                try:
                    node.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(node.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


def cli_run(recipe: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "instructkit", "run", str(recipe), *args],
        capture_output=True, text=True, env=ENV, timeout=timeout,
    )  # fmt: skip


def twin_recipes(tmp_path: Path, text: str) -> tuple[Path, Path]:
    """The same recipe twice, writing to ``local`` and ``ray``."""
    paths = []
    for name in ("local", "ray"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text.replace("OUTPUT", name))
        paths.append(path)
    return paths[0], paths[1]


#: Summary keys that describe the moment, not the run: timings, the process's peak memory, and
#: what was already cached: benchmark indexes, and the texts select's encoder found in its on-disk
#: cache (``encoded`` counts the others; the second run finds those the first one encoded).
MOMENT = ("peak_rss_mb", "cache_hits", "encoded")  # and every key naming seconds
FIGURE = re.compile(rb"\d[\d,]*(\.\d+)?")


def _normal(value: Any, run: str) -> Any:
    """A summary without timings and with the run folder's path written as ``RUN``."""
    if isinstance(value, dict):
        return {
            _normal(k, run): _normal(v, run)
            for k, v in value.items()
            if k not in MOMENT and "seconds" not in k
        }
    if isinstance(value, list):
        return [_normal(v, run) for v in value]
    if isinstance(value, str):
        return value.replace(run + "/", "RUN/")
    return value


def assert_same_run(local: Path, ray: Path) -> None:
    """Every file of the two run directories: records equal for Parquet, summaries equal but for
    their timings, every other file byte for byte."""
    files = sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(ray)) for p in ray.rglob("*") if p.is_file())
    assert any(f.endswith("data.rejects.jsonl") for f in files)
    for name in files:
        a, b = local / name, ray / name
        if name.endswith(".parquet"):
            ta, tb = pq.read_table(a), pq.read_table(b)
            assert ta.schema == tb.schema, name
            assert to_records(ta) == to_records(tb), name
        elif name.endswith(".json"):
            ja = _normal(json.loads(a.read_text()), str(local))
            jb = _normal(json.loads(b.read_text()), str(ray))
            assert ja == jb, name
        elif name == "recipe.yaml":
            ya, yb = (yaml.safe_load(p.read_text()) for p in (a, b))
            for key in ("engine", "output"):  # by design: one runs local, each has its folder
                ya.pop(key), yb.pop(key)
            assert ya == yb, name
        elif name in ("README.md", "report.html"):
            # The report charts each step's seconds and peak memory: equal with the figures masked.
            # It also quotes the recipe as run: its folder and its engine.
            ra, rb = (
                FIGURE.sub(b"N", f.read_bytes().replace(bytes(d), b"RUN")).replace(
                    f"engine: {e}".encode(), b"engine: E"
                )
                for f, d, e in ((a, local, "local"), (b, ray, "ray"))
            )
            assert ra == rb, name
        else:
            assert a.read_bytes() == b.read_bytes(), name


def run_both(tmp_path: Path, text: str, address: str) -> tuple[Path, Path]:
    local_recipe, ray_recipe = twin_recipes(tmp_path, text)
    run_recipe(load(local_recipe))
    done = cli_run(ray_recipe, "--engine", "ray", "--ray-address", address)
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr and "INFO" not in done.stderr, done.stderr
    return tmp_path / "local", tmp_path / "ray"


SMALL = """\
name: t
inputs: [{path: in, license: cc-by-4.0}]
output: OUTPUT
steps:
  - clean: {profile: fast}
  - dedup: {method: [exact, near]}
  - decontaminate: {benchmark: ["bench=BENCH:question"], embedding-model: none}
  - score: {metrics: [format]}
"""


def small_recipe(tmp_path: Path, n: int) -> str:
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "a.jsonl", rows(n))
    bench = write_jsonl(
        tmp_path / "bench.jsonl", [{"id": "g1", "question": rows(3)[-2]["instruction"]}]
    )
    return SMALL.replace("BENCH", str(bench))


@pytest.mark.slow
def test_small_recipe_same_files_as_local(tmp_path: Path, cluster: LoopbackCluster) -> None:
    """Several partitions per step (batch size 5000), a global step, hits and rejects files."""
    text = small_recipe(tmp_path, 12_000)
    local, ray = run_both(tmp_path, text, cluster.address)
    assert_same_run(local, ray)
    funnel = json.loads((ray / "summary.json").read_text())
    assert funnel["balanced"] and funnel["rejected"]["duplicate"] > 0


@pytest.mark.slow
def test_demo_recipe_same_files_as_local(tmp_path: Path, cluster: LoopbackCluster) -> None:
    """examples/recipe.yaml, select and report included (models loaded once per worker): the
    figures select gathers while observing come back from the workers (GlobalStep.observed)."""
    text = (ROOT / "examples" / "recipe.yaml").read_text()
    text = text.replace("path: data", f"path: {ROOT / 'examples' / 'data'}")
    text = text.replace("output: ../out/demo", "output: OUTPUT")
    local, ray = run_both(tmp_path, text, cluster.address)
    assert_same_run(local, ray)


@pytest.mark.slow
def test_50k_real_records_same_files_as_local(
    tmp_path: Path, cluster: LoopbackCluster, shared_data: Path
) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_recipe import build_input

    (tmp_path / "in").mkdir()
    build_input(tmp_path / "in" / "pool.jsonl", 50_000)
    bench = shared_data / "benchmarks"
    text = (  # clean left out for time: test_small_recipe covers it
        "name: t\ninputs: [in]\noutput: OUTPUT\nsteps:\n"
        "  - dedup: {method: [exact, near]}\n"
        f"  - decontaminate: {{benchmark: [gsm8k, humaneval], benchmark-dir: {bench}, embedding-model: none}}\n"
        "  - score: {metrics: [format]}\n"
    )
    local, ray = run_both(tmp_path, text, cluster.address)
    assert_same_run(local, ray)
    assert json.loads((ray / "summary.json").read_text())["records_in"] == 50_000


@pytest.mark.slow
def test_worker_node_killed_mid_run(tmp_path: Path, cluster: LoopbackCluster) -> None:
    """The worker node dies during dedup: Ray retries on the head node and the run finishes with
    the local engine's files, or the run fails with one line and a rerun resumes and finishes."""
    text = small_recipe(tmp_path, 20_000)
    local_recipe, ray_recipe = twin_recipes(tmp_path, text)
    run_recipe(load(local_recipe))
    proc = subprocess.Popen(
        [sys.executable, "-m", "instructkit", "run", str(ray_recipe), "--engine", "ray",
         "--ray-address", cluster.address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while not (tmp_path / "ray" / "02-dedup").exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    cluster.kill_worker()
    _, stderr = proc.communicate(timeout=900)
    print(f"after the kill: exit {proc.returncode}; stderr: {stderr.strip()[-500:]}")
    if proc.returncode != 0:
        lines = [line for line in stderr.splitlines() if line.startswith("error")]
        assert proc.returncode == 2 and len(lines) == 1, stderr
        assert (tmp_path / "ray" / "01-clean" / ".done").exists()
        again = cli_run(ray_recipe, "--engine", "ray", "--ray-address", cluster.address)
        assert again.returncode == 0, again.stderr
        assert "01-clean: done, skipped" in again.stderr
    assert_same_run(tmp_path / "local", tmp_path / "ray")


@pytest.mark.slow
def test_dedup_on_ray_ships_no_text_and_decides_as_local(
    tmp_path: Path, cluster: LoopbackCluster
) -> None:
    """Planted exact and near copies, chains and a capped template family, in 5 partitions over
    two nodes: the driver receives ids only (the shingle sets stay in the object store), and
    the decision is the local one with star (the default) and components clustering."""
    import ray

    from instructkit.engines import ray_dedup
    from instructkit.engines.ray import _partitions

    path = tmp_path / "in.parquet"
    # Records with an empty turn are read rejects; the local decision below reads the file as is.
    table = to_table([r for r in planted(3000) if r["messages"][0]["content"]])
    with RecordWriter(path) as writer:
        writer.write(table)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        for cluster_mode in ("star", "components"):
            step = Dedup(cluster=cluster_mode)
            parts = _partitions(str(path), 700)
            observed = list(ray_dedup.observe(step, parts, str(path), ReadOptions()))
            assert len(observed) == 5
            for part, sigs in observed:
                assert part.features.column_names == ["id"]  # no text, no hash
                assert isinstance(sigs, ray.ObjectRef)
            decision = ray_dedup.decide(step, [p.features for p, _ in observed],
                                        [s for _, s in observed])  # fmt: skip
            local = step.decide(step.observe(pq.read_table(path)))
            assert (decision.keep == local.keep).all() and decision.details == local.details
            assert decision.reasons == local.reasons
            for method in ("exact", "near"):
                want = {k: v for k, v in local.stats[method].items() if "seconds" not in k}
                got = {k: v for k, v in decision.stats[method].items() if "seconds" not in k}
                assert got == want, method
            assert local.stats["near"]["dropped"] > 100 and local.stats["near"]["capped_groups"]
    finally:
        ray.shutdown()


def test_unreachable_cluster_is_one_line_and_fast(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "a.jsonl", rows(6))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: t\ninputs: [in]\noutput: run\nsteps:\n  - clean: {profile: fast}\n")
    t0 = time.monotonic()
    done = cli_run(recipe, "--engine", "ray", "--ray-address", "127.0.0.1:9")
    assert done.returncode == 2
    assert time.monotonic() - t0 < 60
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Ray cluster at 127.0.0.1:9" in lines[0], (
        done.stderr
    )
    assert not (tmp_path / "run" / "01-clean").exists()


def test_address_without_ray_engine_is_an_error(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "a.jsonl", rows(6))
    recipe.write_text("name: t\ninputs: [in]\noutput: run\nsteps:\n  - clean: {profile: fast}\n")
    done = cli_run(recipe, "--ray-address", "127.0.0.1:9")
    assert done.returncode == 2 and "--ray-address needs the ray engine" in done.stderr
