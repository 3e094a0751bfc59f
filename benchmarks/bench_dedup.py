"""Near-duplicate dedup vs datasketch in one run, semantic throughput, and peak memory on 1M records.

    .venv/bin/python benchmarks/bench_dedup.py [--records 50000] [--num-perm 128] [--threshold 0.8]
    .venv/bin/python benchmarks/bench_dedup.py --only semantic [--semantic-records 2000] [--semantic-fields all|instruction]
    .venv/bin/python benchmarks/bench_dedup.py --only memory [--memory-records 1000000]
    .venv/bin/python benchmarks/bench_dedup.py --only real [--split report]
    .venv/bin/python benchmarks/bench_dedup.py --only pool [--pool-rows 200000]

Corpus: Alpaca-sized records drawn from a unigram model of the real Alpaca
sample in ../shared/data (word frequencies and record lengths; a Zipf
vocabulary when the folder is absent), with planted near-duplicates: groups of
a base record and edited copies (words replaced, deleted, inserted at a rate
spread over 0-12%), so their exact Jaccard straddles the threshold.  Ground
truth is the exact Jaccard of word 3-gram *string* sets in plain Python, for
every planted pair and for every pair either tool reports.

Both tools start from the same normalised texts (normalisation is timed once,
apart) and run shingle -> sign -> band -> candidates; instructkit also verifies
candidates with exact Jaccard.  datasketch is timed in its documented
per-shingle ``update`` form and in its faster ``MinHash.bulk`` form.  Quality is
pair-level precision/recall at the threshold.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import orjson

from instructkit.dedup.near import near_pairs
from instructkit.text import normalize

ROOT = Path(__file__).resolve().parents[1]
NGRAM = 3
#: Process CPU seconds of the last datasketch run: on a machine shared with other jobs the wall time
#: depends on the scheduler, the CPU time much less (both tools run on one thread).
CPU_SECONDS: dict[str, float] = {}


# ---------------------------------------------------------------- corpus


def word_model(seed: int) -> tuple[list[str], np.ndarray, list[int]]:
    """(vocabulary, probabilities, record lengths in words) from real Alpaca, or a Zipf fallback."""
    env = os.environ.get("INSTRUCTKIT_SHARED_DATA")
    folder = Path(env) if env else ROOT.parent / "shared" / "data"
    files = sorted((folder / "instructions" / "alpaca_sample_2k").glob("*.jsonl"))
    if files:
        counts: Counter[str] = Counter()
        lengths = []
        for line in files[0].read_bytes().splitlines():
            row = orjson.loads(line)
            words = " ".join(
                (row.get("instruction", ""), row.get("input", ""), row.get("output", ""))
            ).split()
            counts.update(words)
            lengths.append(len(words))
        vocab = list(counts)
        p = np.array([counts[w] for w in vocab], dtype=np.float64)
        return vocab, p / p.sum(), lengths
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(30000)]
    p = 1.0 / np.arange(1, 30001) ** 1.1
    return vocab, p / p.sum(), list(rng.integers(20, 160, size=2000))


def edit(words: list[str], rate: float, vocab: list[str], rng: random.Random) -> list[str]:
    out = list(words)
    for _ in range(max(1, round(rate * len(words)))):
        op, i = rng.random(), rng.randrange(len(out))
        if op < 0.5:
            out[i] = rng.choice(vocab)
        elif op < 0.75 and len(out) > 2:
            del out[i]
        else:
            out.insert(i, rng.choice(vocab))
    return out


def make_corpus(n: int, seed: int) -> tuple[list[str], list[list[int]]]:
    """``n`` texts and the planted groups (lists of indices)."""
    vocab, p, lengths = word_model(seed)
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    n_groups = n // 20
    base = n - 2 * n_groups  # ~10% of records are planted copies
    lens = nrng.choice(lengths, size=base)
    lens = np.maximum(lens, 8)
    flat = nrng.choice(len(vocab), size=int(lens.sum()), p=p)
    texts: list[list[str]] = []
    pos = 0
    for k in lens:
        texts.append([vocab[j] for j in flat[pos : pos + k]])
        pos += k
    groups = []
    for g in range(n_groups):
        src = g * (base // n_groups)
        members = [src]
        for _ in range(2):
            texts.append(edit(texts[src], rng.uniform(0.0, 0.12), vocab, rng))
            members.append(len(texts) - 1)
        groups.append(members)
    return [" ".join(t) for t in texts], groups


def grams(text: str) -> set[tuple[str, ...]]:
    w = text.split()
    if 0 < len(w) < NGRAM:
        return {tuple(w)}
    return {tuple(w[i : i + NGRAM]) for i in range(len(w) - NGRAM + 1)}


def true_jaccard(a: str, b: str) -> float:
    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y) if x | y else 0.0


# ---------------------------------------------------------------- tools


def run_ours(
    norm: list[str], threshold: float, num_perm: int, index: str = "prefix"
) -> tuple[set[tuple[int, int]], float, dict]:
    """instructkit's near-duplicate pairs, the seconds, and its own per-stage seconds and counts."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = near_pairs(norm, threshold, num_perm, NGRAM, index=index)
    secs = time.perf_counter() - t0
    stages = dict(result.stats["stage_seconds"], cpu_seconds=round(time.process_time() - c0, 3))
    stages |= {f"{k}_pairs": result.stats[k] for k in ("candidates", "verified")}
    return {tuple(map(int, p)) for p in result.pairs}, secs, stages


def datasketch_pairs(lsh, minhashes) -> set[tuple[int, int]]:
    out = set()
    for i, m in enumerate(minhashes):
        for j in lsh.query(m):
            if j != i:
                out.add((min(i, j), max(i, j)))
    return out


def run_datasketch(
    norm: list[str], threshold: float, num_perm: int, bulk: bool | str
) -> tuple[set, float, list]:
    from datasketch import MinHash, MinHashLSH

    t0, c0 = time.perf_counter(), time.process_time()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    shingles = [[" ".join(g).encode() for g in grams(t)] for t in norm]
    if bulk == "batch":  # one MinHash per record, update_batch() with all its shingles
        proto = MinHash(num_perm=num_perm)  # share the permutations, as for update() below
        minhashes = []
        for sh in shingles:
            m = MinHash(num_perm=num_perm, permutations=proto.permutations, scheme=proto.scheme)
            m.update_batch(sh)
            minhashes.append(m)
    elif bulk:
        minhashes = MinHash.bulk(shingles, num_perm=num_perm)
    else:  # the documented form: one MinHash, update() per shingle
        perms = MinHash(
            num_perm=num_perm
        ).permutations  # share them: building them per record costs more than hashing
        minhashes = []
        for s in shingles:
            m = MinHash(num_perm=num_perm, permutations=perms, scheme="affine32")
            for x in s:
                m.update(x)
            minhashes.append(m)
    with lsh.insertion_session() as session:
        for i, m in enumerate(minhashes):
            session.insert(i, m)
    pairs = datasketch_pairs(lsh, minhashes)
    CPU_SECONDS["datasketch"] = time.process_time() - c0
    return pairs, time.perf_counter() - t0, minhashes


def quality(
    pred: set[tuple[int, int]], truth: set[tuple[int, int]], texts: list[str], threshold: float
) -> tuple[float, float]:
    good = sum(1 for p in pred if p in truth or true_jaccard(texts[p[0]], texts[p[1]]) >= threshold)
    precision = good / len(pred) if pred else 1.0
    recall = len(pred & truth) / len(truth) if truth else 1.0
    return precision, recall


# ---------------------------------------------------------------- sections


def near_section(args: argparse.Namespace, results: dict) -> None:
    texts, groups = make_corpus(args.records, args.seed)
    t0 = time.perf_counter()
    norm = [normalize(t) for t in texts]
    norm_s = time.perf_counter() - t0
    truth = set()
    for g in groups:
        for a in range(len(g)):
            for b in range(a + 1, len(g)):
                i, j = sorted((g[a], g[b]))
                if true_jaccard(norm[i], norm[j]) >= args.threshold:
                    truth.add((i, j))
    words = np.mean([t.count(" ") + 1 for t in norm])
    print(
        f"\ncorpus: {len(norm):,} records, {words:.1f} words/record, {len(groups):,} planted groups, "
        f"{len(truth):,} planted pairs with Jaccard >= {args.threshold}; normalise (shared) {norm_s:.2f} s"
    )

    ours, ours_s, stages = run_ours(norm, args.threshold, args.num_perm)
    ds_bulk, bulk_s, mh = run_datasketch(norm, args.threshold, args.num_perm, bulk=True)
    # datasketch's candidates checked with its own estimate (what a careful user adds)
    ds_checked = {p for p in ds_bulk if mh[p[0]].jaccard(mh[p[1]]) >= args.threshold}
    ds_upd, upd_s, _ = (
        (set(), float("nan"), None)
        if args.skip_update
        else run_datasketch(norm, args.threshold, args.num_perm, bulk=False)
    )
    # all reported pairs that really are >= threshold also count as truth (none are expected outside the groups)
    extra = {
        p
        for p in ours | ds_bulk | ds_upd
        if p not in truth and true_jaccard(norm[p[0]], norm[p[1]]) >= args.threshold
    }
    truth |= extra

    rows = [
        ("instructkit (MinHash LSH + exact verify)", ours, ours_s),
        ("datasketch MinHashLSH, update() per shingle", ds_upd, upd_s),
        ("datasketch MinHashLSH, MinHash.bulk", ds_bulk, bulk_s),
        ("datasketch bulk + estimated-Jaccard check", ds_checked, bulk_s),
    ]
    print(
        f"\nnear-duplicates, num_perm={args.num_perm}, threshold={args.threshold}, word {NGRAM}-grams "
        f"(instructkit stages: "
        + ", ".join(
            f"{k} {v:.2f} s" if isinstance(v, float) else f"{k} {v}" for k, v in stages.items()
        )
        + ")"
    )
    print(
        f"{'tool':46} {'seconds':>8} {'rec/s':>9} {'speed-up':>9} {'pairs':>7} {'precision':>9} {'recall':>7}"
    )
    results["near"] = {
        "records": len(norm),
        "truth_pairs": len(truth),
        "extra_truth": len(extra),
        "stages": stages,
        "rows": [],
    }
    for name, pred, secs in rows:
        if not pred and math.isnan(secs):
            continue
        p, r = quality(pred, truth, norm, args.threshold)
        print(
            f"{name:46} {secs:8.2f} {len(norm) / secs:9,.0f} {secs / ours_s:8.1f}x {len(pred):7,} {p:9.4f} {r:7.4f}"
        )
        results["near"]["rows"].append(
            {
                "tool": name,
                "seconds": secs,
                "pairs": len(pred),
                "precision": p,
                "recall": r,
                "instructkit_speedup": secs / ours_s,
            }
        )


def semantic_section(args: argparse.Namespace, results: dict) -> None:
    import pyarrow as pa

    from instructkit.steps.dedup import Dedup

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _data import read

    table = pa.concat_tables([read("alpaca_sample_2k"), read("alpaca_sample_1k")]).slice(
        0, args.semantic_records
    )
    step = Dedup(method=["semantic"], fields=args.semantic_fields)
    step.setup()
    t0 = time.perf_counter()
    result = step.process(table)
    total = time.perf_counter() - t0
    s = result.stats["semantic"]
    share = s["encode_seconds"] / total
    print(
        f"\nsemantic dedup ({s['model']}, cosine >= {s['threshold']}, --fields {args.semantic_fields}), "
        f"{table.num_rows:,} real Alpaca records:"
    )
    print(
        f"  step total {total:.2f} s = {table.num_rows / total:,.0f} records/s; model encode {s['encode_seconds']:.2f} s "
        f"= {share:.1%} of the step; search {s['search_seconds']:.3f} s; dropped {len(result.rejects)}"
    )
    results[f"semantic_{args.semantic_fields}"] = s | {
        "records": table.num_rows,
        "step_seconds": total,
        "encode_share_of_step": share,
        "dropped": len(result.rejects),
    }


def memory_section(args: argparse.Namespace, results: dict) -> None:
    """1M short records through the real command in a child process; its peak RSS from getrusage."""
    rng = random.Random(args.seed)
    vocab, _, _ = word_model(args.seed)
    top = vocab[:20000]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "short.jsonl"
        with open(src, "wb") as fh:
            prev = None
            for i in range(args.memory_records):
                if prev is not None and i % 50 == 0:
                    row = prev  # an exact copy now and then
                else:
                    row = {
                        "instruction": " ".join(rng.choices(top, k=rng.randint(6, 14))),
                        "input": "",
                        "output": " ".join(rng.choices(top, k=rng.randint(4, 12))),
                    }
                fh.write(orjson.dumps(row) + b"\n")
                prev = row
        out = Path(tmp) / "out.jsonl"
        secs, peak_mb, summary = _dedup_child(src, out)
    print(
        f"\nmemory: `instructkit dedup` (exact,near) on {args.memory_records:,} short records: peak RSS {peak_mb:,.0f} MB "
        f"(limit 4096 MB), {secs:.1f} s, {summary['records_out']:,} out, {summary['rejected']} rejected, "
        f"dedup step {summary['seconds'].get('dedup', 0):.1f} s"
    )
    results["memory"] = {
        "records": args.memory_records,
        "peak_rss_mb": peak_mb,
        "seconds": secs,
        "records_out": summary["records_out"],
        "rejected": summary["rejected"],
        "dedup_seconds": summary["seconds"].get("dedup"),
    }


def _dedup_child(src: Path, out: Path) -> tuple[float, float, dict]:
    """``instructkit dedup SRC -o OUT`` in a child process: wall seconds, the children's peak RSS
    (MB, from getrusage) and its summary."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "instructkit", "dedup", str(src), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"dedup failed: {proc.stderr[-2000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return secs, peak_mb, orjson.loads(out.with_suffix(".summary.json").read_bytes())


def pool_section(args: argparse.Namespace, results: dict) -> None:
    """``instructkit dedup`` on bench_recipe.py's pool (real rows cycled, ~85% near-duplicates) in a
    child process: peak RSS from getrusage, and the near-duplicate counts from its summary."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_recipe import build_input

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "pool.jsonl"
        build_input(src, args.pool_rows)
        out = Path(tmp) / "out.jsonl"
        load = os.getloadavg()
        secs, peak_mb, summary = _dedup_child(src, out)
    step = summary["steps"]["dedup"]
    near = step["near"]
    print(
        f"\npool: `instructkit dedup` (exact,near) on {args.pool_rows:,} bench_recipe rows: peak RSS {peak_mb:,.0f} MB, "
        f"{secs:.1f} s (load {load[0]:.1f}), {summary['records_out']:,} out; near: {near['candidates']:,} candidates, "
        f"{near['verified']:,} verified, {near['capped_groups']:,} capped groups, stages {near['stage_seconds']}; "
        f"dedup step {summary['seconds'].get('dedup', 0):.1f} s"
    )
    results["pool"] = {
        "rows": args.pool_rows,
        "peak_rss_mb": peak_mb,
        "seconds": secs,
        "load_before": load,
        "records_out": summary["records_out"],
        "dedup_seconds": summary["seconds"].get("dedup"),
        "near": near,
        "exact": step["exact"],
    }


# ---------------------------------------------------------------- real data

REAL_SETS = (
    "alpaca_sample_2k",
    "alpaca_sample_1k",
    "gpteacher_roleplay",
    "gpteacher_toolformer",
    "gsm8k_train_alpaca_format",
    "lima_alpaca_format",
)
#: Lines in at least this many records are boilerplate (tool headers, templates) for the analysis.
BOILERPLATE_RECORDS = 20
GREETINGS = ["Hi! ", "Hello, ", "Quick question: ", "Hey there. ", "Please help: "]


def typos(text: str, rate: float, rng: random.Random) -> str:
    """Swap two letters or drop one in about ``rate`` of the words."""
    w = text.split(" ")
    for i in range(len(w)):
        if len(w[i]) > 3 and rng.random() < rate:
            k = rng.randrange(len(w[i]) - 1)
            w[i] = (
                w[i][:k] + w[i][k + 1] + w[i][k] + w[i][k + 2 :]
                if rng.random() < 0.5
                else w[i][:k] + w[i][k + 1 :]
            )
    return " ".join(w)


def reshape(text: str, rng: random.Random) -> str:
    """One structural edit: drop the last sentence, swap two adjacent words, or add a greeting."""
    op = rng.randrange(3)
    if op == 0:
        sentences = re.split(r"(?<=[.!?])\s+", text)
        return " ".join(sentences[:-1]) if len(sentences) > 4 else text.replace("\n", "\n\n")
    if op == 1:
        w = text.split(" ")
        if len(w) > 3:
            k = rng.randrange(len(w) - 1)
            w[k], w[k + 1] = w[k + 1], w[k]
        return " ".join(w)
    return rng.choice(GREETINGS) + text


def plant(records: list[dict], split: str, count: int, seed: int) -> list[tuple[int, dict]]:
    """(source index, edited copy) for ``count`` records of one half: tune = even rows, report = odd."""
    rng = random.Random(f"{split}-{seed}")
    half = [i for i in range(len(records)) if i % 2 == (0 if split == "tune" else 1)]
    out = []
    for i in rng.sample(half, min(count, len(half))):
        rate = rng.uniform(0.0, 0.08)
        copy = orjson.loads(orjson.dumps(records[i]))
        copy["id"] = f"planted/{split}/{i}"
        for m in copy["messages"]:
            m["content"] = reshape(typos(m["content"], rate, rng), rng) if m["content"] else ""
        out.append((i, copy))
    return out


def boilerplate_free(text: str, common: set[str]) -> str:
    return "\n".join(line for line in text.split("\n") if line.strip() not in common)


def real_section(args: argparse.Namespace, results: dict) -> None:
    from instructkit.dedup.fields import record_texts
    from instructkit.schema import to_records, to_table
    from instructkit.steps.dedup import Dedup

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _data import read

    records = [r for name in REAL_SETS for r in to_records(read(name))]
    plants = plant(records, args.split, args.plants, args.seed)
    every = records + [c for _, c in plants]
    for k, r in enumerate(every):  # unique ids: a reject's row is its id (content-hash ids repeat)
        r["id"] = f"row{k}"
    table = to_table(every)
    texts = record_texts(table, "all")
    t0 = time.perf_counter()
    norm = [normalize(t) for t in texts]
    norm_s = time.perf_counter() - t0
    n_real = len(records)
    sources = [r["source"] for r in records] + ["planted"] * len(plants)
    truth = {
        (i, n_real + k): true_jaccard(norm[i], norm[n_real + k]) for k, (i, _) in enumerate(plants)
    }
    positive = {p for p, j in truth.items() if j >= args.threshold}
    words = np.array([t.count(" ") + 1 for t in norm])
    print(
        f"\nreal data ({', '.join(REAL_SETS)}): {len(norm):,} records ({n_real:,} real + {len(plants):,} planted "
        f"copies, split {args.split}), words/record median {np.median(words):.0f}, p90 {np.quantile(words, 0.9):.0f}, "
        f"max {words.max():,}; {len(positive):,} planted pairs at 3-gram Jaccard >= {args.threshold}; "
        f"normalise (shared) {norm_s:.2f} s"
    )

    # speed: the same normalised texts through both tools
    load = os.getloadavg()
    ours, ours_s, stages = run_ours(norm, args.threshold, args.num_perm)
    ds, ds_s, _ = run_datasketch(norm, args.threshold, args.num_perm, bulk="batch")
    lsh, lsh_s, lsh_stages = run_ours(norm, args.threshold, args.num_perm, index="lsh")
    print(
        "\n| tool | seconds | speed-up | pairs | planted pairs found |\n|---|---:|---:|---:|---:|"
    )
    rows = [
        ("instructkit near (prefix filter + exact verify)", ours, ours_s),
        ("instructkit near, index=lsh (MinHash LSH + exact verify)", lsh, lsh_s),
        ("datasketch MinHashLSH, update_batch()", ds, ds_s),
    ]
    results["real"] = {"records": len(norm), "positive_pairs": len(positive), "speed": []}
    for name, pred, secs in rows:
        found = len(positive & pred) / max(len(positive), 1)
        print(f"| {name} | {secs:.2f} | {secs / ours_s:.1f}x | {len(pred):,} | {found:.4f} |")
        results["real"]["speed"].append(
            {"tool": name, "seconds": secs, "pairs": len(pred), "planted_recall": found}
        )
    load = (*load, *os.getloadavg())
    cpu = {"instructkit": stages["cpu_seconds"], "datasketch": CPU_SECONDS["datasketch"]}
    print(
        f"CPU seconds (same run): instructkit {cpu['instructkit']:.2f}, datasketch {cpu['datasketch']:.2f} "
        f"= {cpu['datasketch'] / cpu['instructkit']:.1f}x"
    )
    results["real"]["cpu_seconds"] = cpu
    print(f"instructkit stages (prefix): {stages}; (lsh): {lsh_stages}")
    print(f"load average (1, 5, 15 min) before the speed runs {load[:3]}, after {load[3:]}")
    results["real"]["stages"] = {"prefix": stages, "lsh": lsh_stages}
    results["real"]["load_before_after"] = load

    # quality: the real step with its defaults, then each removal checked against its kept record
    for cluster in ("star", "components"):
        step = Dedup(cluster=cluster)
        t0 = time.perf_counter()
        res = step.process(table)
        secs = time.perf_counter() - t0
        removed = {}
        for r in res.rejects:
            row = int(re.search(r"input record #(\d+)", r.detail).group(1)) - 1
            removed[int(r.record["id"][3:])] = row
        good = {d for d, k in removed.items() if true_jaccard(norm[d], norm[k]) >= args.threshold}
        caught = sum(1 for i, j in positive if i in removed or j in removed)
        common = {
            line
            for line, c in Counter(
                line.strip() for t in texts for line in set(t.split("\n")) if line.strip()
            ).items()
            if c >= BOILERPLATE_RECORDS
        }
        boiler = [
            d
            for d, k in removed.items()
            if true_jaccard(
                normalize(boilerplate_free(texts[d], common)),
                normalize(boilerplate_free(texts[k], common)),
            )
            < args.threshold
        ]
        by_source = Counter(sources[d] for d in boiler)
        near_alg = sum(res.stats["near"]["stage_seconds"].values())
        split = {
            "step": round(secs, 3),
            "near_algorithm": round(near_alg, 3),
            "near_clusters_and_details": round(res.stats["near"]["seconds"] - near_alg, 3),
            "exact": res.stats["exact"]["seconds"],
            "texts_normalise_and_rest": round(
                secs - res.stats["near"]["seconds"] - res.stats["exact"]["seconds"], 3
            ),
        }
        precision = len(good) / max(len(removed), 1)
        recall = caught / max(len(positive), 1)
        print(
            f"\ndedup step (exact,near, --cluster {cluster}): {secs:.1f} s, removed {len(removed):,}; "
            f"precision (removed record >= {args.threshold} to its kept record) {precision:.4f}; "
            f"planted-pair recall {recall:.4f}; removals below the threshold once boilerplate lines "
            f"(in >= {BOILERPLATE_RECORDS} records) are dropped: {len(boiler):,} {dict(by_source)}; "
            f"summary near: { {k: v for k, v in res.stats['near'].items() if k != 'stage_seconds'} }; "
            f"seconds: {split}"
        )
        results["real"][cluster] = {
            "seconds": secs,
            "removed": len(removed),
            "precision": precision,
            "recall": recall,
            "boilerplate_driven": len(boiler),
            "boilerplate_by_source": dict(by_source),
            "seconds_split": split,
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--skip-update",
        action="store_true",
        help="skip datasketch's slow per-shingle update() form",
    )
    ap.add_argument("--semantic-records", type=int, default=2000)
    ap.add_argument("--semantic-fields", choices=["all", "instruction"], default="all")
    ap.add_argument("--memory-records", type=int, default=1_000_000)
    ap.add_argument("--pool-rows", type=int, default=200_000)
    ap.add_argument(
        "--only", choices=["near", "semantic", "memory", "real", "pool"], action="append"
    )
    ap.add_argument("--split", choices=["tune", "report"], default="report")
    ap.add_argument("--plants", type=int, default=1500)
    ap.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write the results here (e.g. benchmarks/results/dedup.json)",
    )
    args = ap.parse_args()
    results: dict = {"args": {k: str(v) for k, v in vars(args).items()}}
    sections = {
        "near": near_section,
        "semantic": semantic_section,
        "memory": memory_section,
        "real": real_section,
        "pool": pool_section,
    }
    for name in args.only or list(sections):
        sections[name](args, results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
