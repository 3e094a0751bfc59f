"""Peak memory and wall time of a 200k-record recipe: convert, clean (fast), dedup, decontaminate
(n-grams), score (complexity), run as `instructkit run` in a child process.

The input is real instruction data from ../shared/data (Alpaca, GPTeacher, GSM8K train, LIMA,
Dolly-style sets), cycled to N rows; every repeat after the first gets a numbered variant suffix, so
the pool holds real near-duplicates and dedup has real work.  Peak RSS is the child's ru_maxrss.

    .venv/bin/python benchmarks/bench_recipe.py [--rows 200000] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "instructions"
SOURCES = (
    "alpaca_sample_2k",
    "gpteacher_roleplay",
    "gpteacher_toolformer",
    "gsm8k_train_alpaca_format",
    "lima_alpaca_format",
    "alpaca_gpt4_style_demo_llamafactory",
)
BENCH = ROOT.parent / "shared" / "data" / "benchmarks"


def build_input(path: Path, rows: int) -> None:
    pool = []
    for name in SOURCES:
        for f in sorted((SHARED / name).glob("*.jsonl")):
            pool += [json.loads(line) for line in f.read_text().split("\n") if line.strip()]
    with path.open("w") as fh:
        for i in range(rows):
            row = dict(pool[i % len(pool)])
            repeat = i // len(pool)
            if repeat:
                row["instruction"] = f"{row['instruction']} (variant {repeat})"
            row.pop("history", None)
            fh.write(json.dumps(row) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} is absent: this benchmark needs ../shared/data")
    work = args.out or Path(tempfile.mkdtemp(prefix="bench-recipe-"))
    (work / "in").mkdir(parents=True, exist_ok=True)
    build_input(work / "in" / "pool.jsonl", args.rows)
    recipe = work / "recipe.yaml"
    recipe.write_text(
        "name: bench\ninputs: [in]\noutput: run\nsteps:\n"
        "  - clean: {profile: fast}\n"
        "  - dedup: {method: [exact, near]}\n"
        f"  - decontaminate: {{benchmark: [gsm8k, humaneval], benchmark-dir: {BENCH}, embedding-model: none}}\n"
        "  - score: {metrics: [complexity]}\n"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "instructkit", "run", str(recipe)], check=True)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    funnel = json.loads((work / "run" / "summary.json").read_text())
    print(f"{args.rows:,} rows -> {funnel['records_out']:,} records; balanced={funnel['balanced']}")
    for step in funnel["steps"]:
        print(
            f"  {step['folder']:<18} in {step['records_in']:>8,}  out {step['records_out']:>8,}  {step['seconds']:8.1f} s  peak RSS so far {step['peak_rss_mb'] or 0:,} MB"
        )
    print(f"wall {seconds:.1f} s; peak RSS {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
