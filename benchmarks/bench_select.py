"""Speed of ``select`` and of its two offline encoders.

1. Encoders: seconds per 1,000 real records (all turns, as ``select`` embeds
   them; the cache off) for MiniLM and the static model2vec encoder, and how
   often the static encoder's top-10 nearest neighbours agree with MiniLM's.
2. ``instructkit select`` end to end on a pool of 100,000 records (real
   records from ../shared/data repeated with a copy number appended to the
   user turn, so every text is distinct; Parquet in row groups of 5,000 as
   instructkit writes it), N = 1,000: a first run fills the embedding cache,
   the next runs are timed (read, cached embeddings, decide, write), with the
   command's CPU seconds beside its wall time and the load, and their outputs
   compared byte for byte.

    PYTHONPATH=src python benchmarks/bench_select.py [--records 100000] [--skip-encoders]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _data import ROOT, read

from instructkit.models import embeddings
from instructkit.schema import to_records, to_table
from instructkit.select.features import embedding_texts
from instructkit.vector import neighbours


def encoders(count: int) -> dict:
    table = pa.concat_tables([read("alpaca_sample_2k"), read("lima_alpaca_format")])
    texts = embedding_texts(table, "all").to_pylist()[:count]
    out: dict = {"texts": len(texts), "load_average": os.getloadavg()}
    vecs = {}
    for name in ("static", "minilm"):
        embeddings.load(name)
        embeddings.encode(texts[:10], name, cache=False)  # warm-up
        t0 = time.perf_counter()
        vecs[name] = embeddings.encode(texts, name, cache=False)
        out[f"{name}_seconds_per_1k"] = round((time.perf_counter() - t0) * 1000 / len(texts), 3)
    top = {n: neighbours(v, v, k=11, exact=True)[0][:, 1:] for n, v in vecs.items()}
    agree = [len(set(a) & set(b)) / 10 for a, b in zip(top["static"], top["minilm"])]
    out["top10_agreement"] = round(float(np.mean(agree)), 4)
    return out


def big_pool(path: Path, records: int) -> None:
    from eval_select import scored_pool

    base = scored_pool()
    copies = -(-records // base.num_rows)
    parts = []
    for k in range(copies):
        rows = to_records(base)
        for r in rows:
            r["id"] = f"{r['id']}-{k}"
            for m in r["messages"]:
                if m["role"] == "user":
                    m["content"] = f"{m['content']} (copy {k})"
                    break
        parts.extend(rows)

    # Row groups of 5,000 records, as instructkit writes Parquet (one per batch).
    pq.write_table(to_table(parts[:records]), path, row_group_size=5000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--skip-encoders", action="store_true")
    ap.add_argument(
        "--encoder-texts", type=int, default=2000, help="texts timed per encoder (Alpaca, LIMA)"
    )
    ap.add_argument("--embedding-model", default="static")
    ap.add_argument("--cached-runs", type=int, default=2)
    ap.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_select.json"
    )
    args = ap.parse_args()
    result: dict = {"load_average": os.getloadavg()}
    if not args.skip_encoders:
        result["encoders"] = encoders(args.encoder_texts)
        print(result["encoders"])
    with tempfile.TemporaryDirectory() as tmp:
        pool = Path(tmp) / "pool.parquet"
        big_pool(pool, args.records)
        cmd = [
            sys.executable,
            "-m",
            "instructkit",
            "select",
            str(pool),
            "-o",
            str(Path(tmp) / "sel.jsonl"),
            "-n",
            "1000",
            "--embedding-model",
            args.embedding_model,
            "--missing",
            "reject",
        ]
        runs = []
        digests = []
        for _ in range(1 + args.cached_runs):
            load = os.getloadavg()[0]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            summary = json.loads((Path(tmp) / "sel.summary.json").read_text())
            step = summary["steps"]["select"]
            runs.append(
                {
                    "wall_seconds": round(wall, 2),
                    # CPU seconds (user + system) of the command: what an idle machine's wall
                    # time approaches; on the shared 2-core machine the wall time is several times it.
                    "cpu_seconds": round(
                        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 2
                    ),
                    "load_average_1min": round(load, 2),
                    "seconds": summary["seconds"],
                    "decide_seconds": step.get("decide_seconds"),
                    "embedding": step.get("embedding"),
                    "selected": step.get("selected"),
                }
            )
            digests.append(
                [
                    hashlib.sha256((Path(tmp) / name).read_bytes()).hexdigest()
                    for name in ("sel.jsonl", "sel.rejects.jsonl", "sel.selection.jsonl")
                ]
            )
        result["select"] = {
            "records": args.records,
            "n": 1000,
            "embedding_model": args.embedding_model,
            "first_run": runs[0],
            "cached_runs": runs[1:],
            "byte_identical_reruns": all(d == digests[0] for d in digests),
        }
    result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
