"""Evol-Instruct with the offline local model on real seeds: the per-round table.

    .venv/bin/python benchmarks/evolve_demo.py [--seeds 20] [--rounds 2] [--max-tokens 256]

Takes the first N Self-Instruct seed tasks from ../shared/data (each with its
first instance only: evolution reads the instruction), runs ``evolve`` against
llama.cpp's server on SmolLM2-135M-Instruct, and prints per round: evolved,
survived, eliminated by criterion, failed calls, and the complexity of the
survivors vs their parents (the scoring step's metric).  SmolLM2-135M is a
tiny model: the table shows the machinery working, not good data.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from instructkit.engines.local import run
from instructkit.steps.evolve import EvolveStep

SEEDS = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "instructions"
    / "self_instruct_seed_tasks"
    / "seed_tasks.jsonl"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument(
        "--out", type=Path, default=None, help="keep the output here (default: a temporary folder)"
    )
    ap.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "evolve_demo.json"
    )
    args = ap.parse_args()
    if not SEEDS.is_file():
        sys.exit(f"{SEEDS} is absent: this demo needs ../shared/data")
    rows = [json.loads(line) for line in SEEDS.read_text().splitlines()[: args.seeds]]
    work = args.out or Path(tempfile.mkdtemp(prefix="evolve-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "seeds.jsonl"
    src.write_text("".join(json.dumps(r | {"instances": r["instances"][:1]}) + "\n" for r in rows))
    step = EvolveStep(
        rounds=args.rounds, seed=args.seed, max_tokens=args.max_tokens,
        concurrency=args.concurrency, cache=work / "cache.sqlite",
    )  # fmt: skip
    t0 = time.perf_counter()
    summary = run([str(src)], work / "out.jsonl", [step])
    seconds = time.perf_counter() - t0
    report = summary["steps"]["evolve"]
    print(f"# evolve demo: {len(rows)} Self-Instruct seeds, {args.rounds} rounds, model {report['model']} "
          f"(local llama.cpp server), seed {args.seed}, {seconds:.0f} s")  # fmt: skip
    print(f"records in {summary['records_in']}, generated {summary['generated']}, out {summary['records_out']}, "
          f"rejected {summary['rejected_total']}, balanced {summary['balanced']}")  # fmt: skip
    print("| round | evolved | survived | eliminated (criterion: n) | failed calls | judge unclear "
          "| parent complexity | child complexity | mean gain | children more complex |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in report["rounds"]:
        elim = ", ".join(f"{k}: {v}" for k, v in r["eliminated"].items()) or "none"
        gain = r.get("mean_complexity_gain")
        cells = [r.get("parent_complexity", "-"), r.get("child_complexity", "-"),
                 f"{gain:+.3f}" if isinstance(gain, float) else gain, r.get("children_more_complex", "-")]  # fmt: skip
        print(f"| {r['round']} | {r['evolved']} | {r['survived']} | {elim} | {r['failed_calls']} | {r['equality_unclear']} | "
              + " | ".join(str(c) for c in cells) + " |")  # fmt: skip
    print(f"LLM: {report['llm']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"seconds": seconds, "summary": summary}, indent=2))
    print(f"output: {work / 'out.jsonl'}; rejects: {work / 'out.rejects.jsonl'}")


if __name__ == "__main__":
    main()
