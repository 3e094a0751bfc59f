"""convert throughput vs a plain orjson parse of the same file, in one run.

    .venv/bin/python benchmarks/bench_convert.py [--records 200000] [--repeat 3]

Generates Alpaca-style records (random words, 60% empty inputs), then times
(a) ``orjson.loads`` of every line (the floor any JSONL reader pays) and
(b) instructkit's full convert: read + validate + normalise to records + write
JSONL, single process; and (c), for scale, a floor that does no normalising at
all: decode the lines with msgspec, encode the same objects back, write them.
Reports the best of ``--repeat`` runs of each and the ratio of rates (target:
convert >= 40% of the raw parse rate).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import msgspec
import orjson

from instructkit.engines import local

WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "this",
    "are",
    "or",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "been",
    "one",
    "all",
    "we",
    "their",
    "has",
    "would",
    "when",
    "what",
    "if",
    "out",
    "so",
    "said",
    "up",
    "its",
    "about",
    "into",
    "than",
    "them",
    "can",
    "only",
    "other",
    "time",
    "new",
    "some",
    "could",
    "these",
    "two",
    "may",
    "first",
    "then",
    "do",
    "any",
    "like",
    "my",
    "now",
    "over",
    "such",
    "our",
    "man",
    "me",
    "even",
    "most",
    "made",
    "after",
    "also",
    "did",
    "many",
    "before",
    "must",
    "through",
    "back",
    "years",
    "where",
    "much",
    "your",
    "way",
    "well",
    "down",
    "should",
    "because",
    "each",
    "just",
    "those",
    "people",
    "how",
    "too",
]


def generate(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as f:
        for _ in range(n):
            row = {
                "instruction": " ".join(rng.choices(WORDS, k=rng.randint(5, 30))).capitalize()
                + "?",
                "input": ""
                if rng.random() < 0.6
                else " ".join(rng.choices(WORDS, k=rng.randint(5, 40))),
                "output": " ".join(rng.choices(WORDS, k=rng.randint(20, 200))) + ".",
            }
            f.write(orjson.dumps(row) + b"\n")


def time_orjson(path: Path) -> float:
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        for line in f:
            orjson.loads(line)
    return time.perf_counter() - t0


def time_floor(path: Path, out: Path) -> float:
    """Decode + re-encode + write, 4 MB at a time, with nothing in between: the least any
    JSONL-to-JSONL tool in Python pays on top of the parse."""
    decode, encode = msgspec.json.Decoder().decode_lines, msgspec.json.Encoder().encode_lines
    t0 = time.perf_counter()
    with open(path, "rb") as f, open(out, "wb") as w:
        while block := f.read(4 << 20):
            block += f.readline()
            w.write(encode(decode(block)))
    return time.perf_counter() - t0


def time_convert(path: Path, out: Path) -> float:
    t0 = time.perf_counter()
    summary = local.run([str(path)], out, [])
    elapsed = time.perf_counter() - t0
    assert summary["balanced"] and summary["rejected_total"] == 0, summary
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "alpaca_big.jsonl"
        generate(src, args.records)
        size_mb = src.stat().st_size / 1e6
        raw = min(time_orjson(src) for _ in range(args.repeat))
        # A fresh output path per run: replacing the last run's 130 MB file would add the file
        # system's cost of freeing it, which is not part of converting.
        conv = min(time_convert(src, Path(tmp) / f"out{i}.jsonl") for i in range(args.repeat))
        floor = min(time_floor(src, Path(tmp) / f"floor{i}.jsonl") for i in range(args.repeat))
    print(f"records: {args.records:,}  file: {size_mb:.0f} MB  (best of {args.repeat})")
    print(f"{'orjson.loads per line':<34}{raw:8.2f} s {args.records / raw:12,.0f} rec/s")
    print(
        f"{'instructkit convert (read+write)':<34}{conv:8.2f} s {args.records / conv:12,.0f} rec/s"
    )
    print(
        f"{'floor: msgspec decode+encode+write':<34}{floor:8.2f} s {args.records / floor:12,.0f} rec/s"
    )
    print(
        f"convert rate / orjson rate: {raw / conv:.0%}  (target >= 40%); floor / orjson: {raw / floor:.0%}"
    )


if __name__ == "__main__":
    main()
