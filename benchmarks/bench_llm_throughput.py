"""How busy the LLM client keeps its concurrency limit against a server that answers in 200 ms.

    .venv/bin/python benchmarks/bench_llm_throughput.py [--latency 0.2] [--concurrency 8 32] [--calls-per-slot 25]

For each concurrency limit C, N = C x calls-per-slot distinct chats go to the
fake OpenAI-compatible server (tests/fake_llm_server.py, loopback, fixed
latency, in its own process so that it does not share the client's GIL).  The ideal is C / latency calls per second; "busy" is the measured
rate over the ideal, and "server busy" the server-side mean of requests in
flight over C.  The same run measures the standard way — the bare ``openai``
SDK under an ``asyncio.Semaphore`` — and reports our rate as a ratio of it
(ours adds retries, the cache lookup and the usage counter).  Each client runs
``--repeats`` times, interleaved in rotating order, and the table shows medians,
because on a shared machine the load drifts between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from instructkit.llm import LLMClient

ROOT = Path(__file__).resolve().parents[1]


class Server:
    """tests/fake_llm_server.py in a child process; its request log comes back when it stops."""

    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_llm_server", "--latency", str(latency)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()

    def stop(self) -> list[dict[str, float]]:
        out, _ = self.proc.communicate(timeout=60)
        return json.loads(out)["log"]


CLIENTS = ["bare openai SDK + semaphore", "LLMClient (no cache)", "LLMClient (SQLite cache on)"]


def batch(n: int, tag: str) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"{tag} question {i}"}] for i in range(n)]


def server_busy(log: list[dict[str, float]], start: float, end: float, c: int) -> float:
    """Mean requests in flight at the server over [start, end], over C (monotonic clocks agree across processes)."""
    busy = sum(max(0.0, min(e["ended"], end) - max(e["started"], start)) for e in log)
    return busy / ((end - start) * c)


def cpu_ms(t_cpu: float, n: int) -> float:
    return 1000 * (time.process_time() - t_cpu) / n


def run_ours(srv: Server, c: int, n: int, cache: Path | None) -> tuple[float, float, float, float]:
    client = LLMClient(srv.base_url, "fake", concurrency=c, cache_path=cache)
    client.chat_many(batch(c, "warm"))  # open the connections, import everything
    t0, t_cpu = time.monotonic(), time.process_time()
    out = client.chat_many(batch(n, f"ours-{cache is not None}"), max_tokens=16)
    t1 = time.monotonic()
    ms = cpu_ms(t_cpu, n)
    assert all(not hasattr(o, "kind") for o in out), "a call failed"
    client.close()
    return n / (t1 - t0), t0, t1, ms


def run_sdk(srv: Server, c: int, n: int) -> tuple[float, float, float, float]:
    import openai

    async def go() -> tuple[float, float, float, float]:
        sdk = openai.AsyncOpenAI(base_url=srv.base_url, api_key="x", max_retries=0)
        sem = asyncio.Semaphore(c)

        async def one(m: list[dict[str, str]]) -> str:
            async with sem:
                r = await sdk.chat.completions.create(model="fake", messages=m, max_tokens=16)
                return r.choices[0].message.content

        await asyncio.gather(*(one(m) for m in batch(c, "sdk-warm")))
        t0, t_cpu = time.monotonic(), time.process_time()
        await asyncio.gather(*(one(m) for m in batch(n, "sdk")))
        t1 = time.monotonic()
        ms = cpu_ms(t_cpu, n)
        await sdk.close()
        return n / (t1 - t0), t0, t1, ms

    return asyncio.run(go())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--calls-per-slot", type=int, default=25)
    ap.add_argument(
        "--repeats", type=int, default=3, help="runs per client; the table shows medians"
    )
    ap.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "bench_llm_throughput.json"
    )
    args = ap.parse_args()
    rows = []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# server latency {args.latency * 1000:.0f} ms, loopback; medians of {args.repeats} interleaved runs; "
          f"load average at start {load:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print(
        "| client | concurrency | calls | calls/s | ideal calls/s | busy (rate/ideal) | server busy | client CPU ms/call | vs bare SDK |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for c in args.concurrency:
        n = c * args.calls_per_slot
        ideal = c / args.latency
        srv = Server(args.latency)
        runs: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in CLIENTS}
        with tempfile.TemporaryDirectory() as tmp:
            for rep in range(
                args.repeats
            ):  # interleaved, rotating order: load drifts hit every client alike
                names = CLIENTS[rep % 3 :] + CLIENTS[: rep % 3]
                for name in names:
                    if name == CLIENTS[0]:
                        runs[name].append(run_sdk(srv, c, n))
                    else:
                        cache = Path(tmp) / f"c{rep}.sqlite" if name == CLIENTS[2] else None
                        runs[name].append(run_ours(srv, c, n, cache))
        log = srv.stop()
        medians = {}
        for name, results in runs.items():
            rates = [r[0] for r in results]
            busies = [server_busy(log, t0, t1, c) for _, t0, t1, _ in results]
            medians[name] = (
                statistics.median(rates),
                statistics.median(busies),
                statistics.median(r[3] for r in results),
            )
        sdk_rate = medians[CLIENTS[0]][0]
        for name, (rate, busy, ms) in medians.items():
            rows.append({"client": name, "concurrency": c, "calls": n, "repeats": args.repeats, "calls_per_s": rate,
                         "ideal": ideal, "busy": rate / ideal, "server_busy": busy, "client_cpu_ms_per_call": ms,
                         "vs_sdk": rate / sdk_rate})  # fmt: skip
            print(
                f"| {name} | {c} | {n} | {rate:.1f} | {ideal:.0f} | {rate / ideal:.1%} | {busy:.1%} | {ms:.1f} | {rate / sdk_rate:.2f}x |"
            )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"latency": args.latency, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
