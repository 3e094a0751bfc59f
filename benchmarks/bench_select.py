"""Speed of ``select`` and of its two offline encoders.

1. Encoders: seconds per 1,000 real records (all turns, as ``select`` embeds
   them; the cache off) for MiniLM and the static model2vec encoder, and how
   often the static encoder's top-10 nearest neighbours agree with MiniLM's.
2. ``instructkit select`` end to end on a pool of 100,000 records (real
   records from ../shared/data repeated with a copy number appended to the
   user turn, so every text is distinct), N = 1,000: a first run fills the
   embedding cache, the second is timed (read, cached embeddings, decide, write).

    PYTHONPATH=src python benchmarks/bench_select.py [--records 100000] [--skip-encoders]
"""

from __future__ import annotations

import argparse
import json
import os
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

ENCODER_TEXTS = 2000


def encoders() -> dict:
    table = pa.concat_tables([read("alpaca_sample_2k"), read("lima_alpaca_format")])
    texts = embedding_texts(table, "all")[:ENCODER_TEXTS]
    out: dict = {"texts": len(texts)}
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

    pq.write_table(to_table(parts[:records]), path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--skip-encoders", action="store_true")
    ap.add_argument("--embedding-model", default="static")
    ap.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_select.json"
    )
    args = ap.parse_args()
    result: dict = {"load_average": os.getloadavg()}
    if not args.skip_encoders:
        result["encoders"] = encoders()
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
        for _ in range(2):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            runs.append(round(time.perf_counter() - t0, 2))
        summary = json.loads((Path(tmp) / "sel.summary.json").read_text())
        step = summary["steps"]["select"]
        result["select"] = {
            "records": args.records,
            "n": 1000,
            "embedding_model": args.embedding_model,
            "first_run_seconds": runs[0],
            "cached_run_seconds": runs[1],
            "cached_run_select_seconds": round(summary["seconds"].get("select", 0), 2),
            "decide_seconds": step.get("decide_seconds"),
            "embedding": step.get("embedding"),
            "selected": step.get("selected"),
        }
    result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
