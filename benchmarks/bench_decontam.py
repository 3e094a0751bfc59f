"""Speed and memory of the decontamination tiers, in one run, as ratios against the standard approach.

Tier 1 is compared with the lm-evaluation-harness approach: a Python ``set`` of
benchmark n-gram *strings* (space-joined normalised words, texts shorter than n
kept whole), and a scan that builds each record's n-gram strings and tests
membership.  Both sides index the same benchmark texts, scan the same records'
turns, and use the same normalisation rule; the instructkit side additionally
attributes every match to its benchmark item and overlap ratio.

The embedding tier is timed through the real step: records/s and the share of
the tier's time spent inside the model's ``encode`` (the rest is our overhead:
de-duplication, the matrix product, top-k, evidence).

    .venv/bin/python benchmarks/bench_decontam.py [--records 50000] [--embed-records 2000] [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import orjson

from instructkit.accounting import RunLog
from instructkit.decontam.benchmarks import ADAPTERS, load
from instructkit.decontam.ngram import MIN_WHOLE_WORDS, NgramIndex, TextGrams, match
from instructkit.engines.local import run
from instructkit.io.read import read_tables
from instructkit.schema import to_records, turn_texts
from instructkit.text import words

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ALPACA_SETS = (
    "alpaca_sample_2k",
    "gpteacher_roleplay",
    "gpteacher_toolformer",
    "lima_alpaca_format",
    "alpaca_gpt4_style_demo_llamafactory",
    "gsm8k_train_alpaca_format",
)


def corpus(data: Path, n: int) -> list[dict]:
    """``n`` Alpaca-sized real records, cycling the Alpaca-format sets of shared/data."""
    log = RunLog(None, None)
    base = [
        r
        for name in ALPACA_SETS
        for t in read_tables([str(data / "instructions" / name)], log)
        for r in to_records(t)
    ]
    return [r | {"id": f"{r['id']}#{k}"} for k, r in zip(range(n), itertools.cycle(base))]


def harness_index(fields: list[list[str]], n: int) -> set[str]:
    """lm-evaluation-harness style: every n-gram of each benchmark text as a string; short texts whole.

    The same texts as ``NgramIndex.build`` indexes (as stored, options labelled, a short main field
    whole), so both stores hold the same n-grams.
    """
    grams: set[str] = set()
    for f in fields:
        docs = ["\n".join(f)]
        if len(f) > 1:
            docs.append(
                f[0] + "\n" + "\n".join(f"{chr(65 + j % 26)}. {o}" for j, o in enumerate(f[1:]))
            )
            main = words(f[0])
            if MIN_WHOLE_WORDS <= len(main) < n:
                grams.add(" ".join(main))
        for doc in docs:
            toks = words(doc)
            if len(toks) < n:
                grams.add(" ".join(toks))
            for i in range(len(toks) - n + 1):
                grams.add(" ".join(toks[i : i + n]))
    return grams


def harness_scan(texts: list[str], grams: set[str], sizes: list[int]) -> set[int]:
    hits = set()
    for k, text in enumerate(texts):
        toks = words(text)
        for m in sizes:
            if any(" ".join(toks[i : i + m]) in grams for i in range(len(toks) - m + 1)):
                hits.add(k)
                break
    return hits


def set_bytes(grams: set[str]) -> int:
    return sys.getsizeof(grams) + sum(sys.getsizeof(g) for g in grams)


def bench_ngram(records: list[dict], data: Path, names: list[str], n: int) -> dict:
    from instructkit.schema import to_table

    texts = turn_texts(to_table(records))[0]
    fields = [f for name in names for f in load(name, data / "benchmarks").fields]
    t0 = time.perf_counter()
    index = NgramIndex.build(fields, n)
    ours_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    grams = harness_index(fields, n)
    base_build = time.perf_counter() - t0
    short = index.short.tolist()  # the same whole-text lengths on both sides
    t0 = time.perf_counter()
    m = match(index, TextGrams.of(texts, {n, *index.short.tolist()}))
    ours_scan = time.perf_counter() - t0
    t0 = time.perf_counter()
    base_hits = harness_scan(texts, grams, [n, *short])
    base_scan = time.perf_counter() - t0
    ours_texts = set(m.texts.tolist())
    return {
        "benchmark_items": len(fields),
        "turns": len(texts),
        "n": n,
        "index_bytes": {"instructkit": index.nbytes, "harness_set": set_bytes(grams)},
        "distinct_ngrams": {"instructkit": len(index.hashes), "harness_set": len(grams)},
        "build_s": {"instructkit": ours_build, "harness_set": base_build},
        "scan_s": {"instructkit": ours_scan, "harness_set": base_scan},
        "turns_flagged": {
            "instructkit": len(ours_texts),
            "harness_set": len(base_hits),
            "harness_only": len(base_hits - ours_texts),
        },
    }


def bench_embedding(records: list[dict], data: Path, names: list[str], cache_dir: Path) -> dict:
    from instructkit.steps.decontaminate import Decontaminate

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        src.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
        step = Decontaminate(
            names, benchmark_dir=data / "benchmarks", mode="flag", cache_dir=cache_dir
        )
        step.setup()  # model load and benchmark indexes are one-off costs, timed apart
        from instructkit.models.embeddings import encode

        encode(["warm up"])
        summary = run([str(src)], Path(tmp) / "out.jsonl", [step])
    sec = summary["steps"]["decontaminate"]["tier_seconds"]
    return {
        "records": len(records),
        "tier_s": sec["embedding"],
        "encode_s": sec["embedding_encode"],
        "encode_share": sec["embedding_encode"] / sec["embedding"],
        "records_per_s": len(records) / sec["embedding"],
        "ngram_tier_s": sec["ngram"],
        "benchmarks": names,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--benchmarks", default=",".join(ADAPTERS))
    ap.add_argument("--ngram", type=int, default=13)
    ap.add_argument("--embed-records", type=int, default=2000, help="0 skips the embedding tier")
    ap.add_argument(
        "--embed-benchmarks", default="gsm8k,humaneval,ifeval,mbpp,truthfulqa,alpaca_eval,mt_bench"
    )
    ap.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "instructkit-eval-cache"
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    records = corpus(args.data, args.records)
    names = args.benchmarks.split(",")
    r = {"ngram": bench_ngram(records, args.data, names, args.ngram)}
    g = r["ngram"]
    print(
        f"# tier 1: {len(records):,} records ({g['turns']:,} turns) vs {g['benchmark_items']:,} items of {len(names)} benchmarks, n={g['n']}"
    )
    print("| | instructkit (sorted uint64) | harness (set of strings) | ratio |\n|---|---|---|---|")
    print(
        f"| scan (s) | {g['scan_s']['instructkit']:.2f} | {g['scan_s']['harness_set']:.2f} | "
        f"{g['scan_s']['harness_set'] / g['scan_s']['instructkit']:.1f}x faster |"
    )
    print(
        f"| index memory (MB) | {g['index_bytes']['instructkit'] / 1e6:.1f} | {g['index_bytes']['harness_set'] / 1e6:.1f} | "
        f"{g['index_bytes']['harness_set'] / g['index_bytes']['instructkit']:.1f}x smaller |"
    )
    print(
        f"| index build (s) | {g['build_s']['instructkit']:.2f} | {g['build_s']['harness_set']:.2f} | "
        f"{g['build_s']['harness_set'] / g['build_s']['instructkit']:.1f}x |"
    )
    print(
        f"| turns flagged | {g['turns_flagged']['instructkit']:,} | {g['turns_flagged']['harness_set']:,} | "
        f"{g['turns_flagged']['harness_only']} flagged by the harness only |"
    )
    if args.embed_records:
        e = r["embedding"] = bench_embedding(
            records[: args.embed_records],
            args.data,
            args.embed_benchmarks.split(","),
            args.cache_dir,
        )
        print(
            f"\n# tier 2: {e['records']:,} records vs {', '.join(e['benchmarks'])} (MiniLM, indexes cached)"
        )
        print(
            f"records/s: {e['records_per_s']:.0f}; encode {e['encode_s']:.1f} s of the tier's {e['tier_s']:.1f} s "
            f"= {100 * e['encode_share']:.1f}% in the model"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
