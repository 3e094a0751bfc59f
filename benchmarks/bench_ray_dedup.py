"""What the partitioned dedup (the Ray engine's) moves, per record, measured on a real record file.

Runs the phases of :mod:`instructkit.dedup.partitioned` in this process with an executor that
weighs (pickled bytes) every phase's inputs and what the driver fetches, so the table in
docs/ray.md comes from data, not guesses.  Counting every input as moved is the worst case: on
a cluster a task that runs where its input was made reads it from its own node.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_ray_dedup.py RECORDS.parquet [--batch 5000] [--parts 8]
"""

from __future__ import annotations

import argparse
import pickle
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from instructkit.dedup import partitioned
from instructkit.schema import conform
from instructkit.steps.dedup import Dedup


class Weighing(partitioned.Inline):
    """Inline, counting the pickled bytes each phase takes in and each value the driver gets."""

    def __init__(self) -> None:
        self.moved: Counter[str] = Counter()
        self.tasks: Counter[str] = Counter()
        self.to_driver = 0

    def submit(self, fn: partitioned.Phase, *args: Any, returns: int = 1) -> list[Any]:
        self.tasks[fn.__name__] += 1
        self.moved[fn.__name__] += sum(len(pickle.dumps(a)) for a in args)
        return super().submit(fn, *args, returns=returns)

    def get(self, handles: list[Any]) -> list[Any]:
        self.to_driver += sum(len(pickle.dumps(h)) for h in handles)
        return handles


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("records", type=Path)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--parts", type=int, default=8)
    args = ap.parse_args()
    table = conform(pq.read_table(args.records))
    step = Dedup()
    n = table.num_rows
    t0 = time.perf_counter()
    features, sigs = [], []
    for s in range(0, n, args.batch):
        f, g = partitioned.observe(table.slice(s, args.batch), step.config)
        features.append(f)
        sigs.append(g)
    t1 = time.perf_counter()
    ex = Weighing()
    decision = partitioned.decide(step.config, features, sigs, ex, args.parts)
    t2 = time.perf_counter()
    text = sum(
        len(pickle.dumps(step.observe(table.slice(s, args.batch)))) for s in range(0, n, args.batch)
    )
    print(
        f"{n:,} records, {len(sigs)} batches, {args.parts} partitions; observe {t1 - t0:.1f} s, decide {t2 - t1:.1f} s"
    )
    print(f"kept {int(decision.keep.sum()):,}; stats {decision.stats}")
    print(f"{'what':<34}{'bytes/record':>14}")
    rows = {
        "single-machine features (id, text, norm)": text,
        "features to the driver (id)": sum(len(pickle.dumps(f)) for f in features),
        "sigs made on the workers (kept there)": sum(len(pickle.dumps(g)) for g in sigs),
        **{f"phase {k} inputs ({ex.tasks[k]} tasks)": v for k, v in ex.moved.items()},
        "pairs and counts to the driver": ex.to_driver,
    }
    for what, size in rows.items():
        print(f"{what:<50}{size / n:>10.1f}")


if __name__ == "__main__":
    main()
