"""Recall and false positives of `decontaminate`, per benchmark and tier, on a planted test set.

Builds the test set from ``shared/data``: K items per benchmark are planted into
real Alpaca records (the user turn becomes the planted text, the real response
stays) in three forms - verbatim; light edits (a prefix such as "Answer the
following:", a case or white-space change, multiple-choice options reordered and
relabelled); rephrased (words swapped for synonyms from a fixed list, sentences
or clauses reordered, a different prefix).  The other real records are the
negatives.  One flag-mode run of the real step gives every tier's verdict, so
the table shows the n-gram tier, the embedding tier and their union; the cosine
sweep at the end is how the embedding threshold was calibrated.

    .venv/bin/python benchmarks/eval_decontam.py --split tune|report [--per-benchmark 40] [--known] [--json FILE]

Tune and report splits share nothing: different benchmark items (each
benchmark's sampled items are cut in two), different unplanted real records
(tune: alpaca_sample_2k; report: alpaca_sample_1k, GPTeacher roleplay and
LIMA), and a different rephrasing transform (tune: ``rephrase``; report:
``restate``, written after the tuning was done).  Every split runs the step
twice: the default (``search="lexical"``) and ``search="full"``, whose
embedding tier alone is the raw-cosine baseline (MiniLM cosine >= 0.85 over
every benchmark item).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import orjson

from instructkit.accounting import RunLog
from instructkit.decontam.benchmarks import load
from instructkit.engines.local import run
from instructkit.io.read import read_tables
from instructkit.schema import to_records
from instructkit.steps.decontaminate import Decontaminate
from instructkit.text import words

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: A fixed synonym list for the "rephrased" variant (common words of benchmark questions).
SYNONYMS = {
    "what": "which",
    "find": "determine",
    "calculate": "compute",
    "compute": "work out",
    "many": "numerous",
    "total": "overall",
    "number": "count",
    "write": "create",
    "function": "routine",
    "given": "provided",
    "list": "sequence",
    "returns": "gives back",
    "return": "give back",
    "following": "below",
    "statement": "claim",
    "true": "correct",
    "false": "incorrect",
    "each": "every",
    "every": "each",
    "how": "in what way",
    "much": "a lot",
    "buy": "purchase",
    "bought": "purchased",
    "sold": "sold off",
    "sell": "vend",
    "money": "cash",
    "dollars": "bucks",
    "day": "daily period",
    "days": "daily periods",
    "week": "seven-day period",
    "year": "twelve months",
    "years": "twelve-month periods",
    "people": "persons",
    "person": "individual",
    "children": "kids",
    "child": "kid",
    "big": "large",
    "large": "big",
    "small": "little",
    "little": "small",
    "fast": "quick",
    "quickly": "rapidly",
    "begin": "start",
    "start": "begin",
    "end": "finish",
    "finish": "end",
    "help": "assist",
    "make": "produce",
    "makes": "produces",
    "made": "produced",
    "use": "employ",
    "used": "employed",
    "uses": "employs",
    "show": "display",
    "explain": "describe",
    "describe": "explain",
    "answer": "reply",
    "question": "query",
    "problem": "task",
    "example": "instance",
    "important": "significant",
    "difference": "distinction",
    "between": "among",
    "because": "since",
    "also": "additionally",
    "about": "regarding",
    "after": "following",
    "before": "prior to",
    "then": "afterwards",
    "if": "provided that",
    "can": "is able to",
    "could": "might",
    "should": "ought to",
    "must": "has to",
    "need": "require",
    "needs": "requires",
    "want": "wish",
    "wants": "wishes",
    "get": "obtain",
    "gets": "obtains",
    "got": "obtained",
    "give": "provide",
    "gives": "provides",
    "take": "grab",
    "takes": "requires",
    "string": "text",
    "integer": "whole number",
    "array": "list",
    "element": "item",
    "elements": "items",
    "check": "verify",
    "whether": "if",
    "smallest": "minimum",
    "largest": "maximum",
    "sum": "total",
    "average": "mean",
    "value": "amount",
    "values": "amounts",
    "result": "outcome",
    "likely": "probable",
    "best": "most suitable",
    "most": "the majority",
    "which": "what",
    "describes": "characterizes",
    "student": "pupil",
    "students": "pupils",
    "teacher": "instructor",
    "house": "home",
    "car": "automobile",
    "water": "H2O",
    "story": "tale",
    "essay": "composition",
    "short": "brief",
    "long": "lengthy",
    "create": "compose",
    "response": "reply",
    "words": "terms",
    "include": "contain",
    "using": "employing",
    "please": "kindly",
    "tell": "inform",
    "think": "believe",
    "good": "fine",
    "bad": "poor",
    "new": "novel",
    "old": "aged",
    "first": "initial",
    "last": "final",
    "next": "subsequent",
    "shows": "displays",
}
PREFIXES = ["Answer the following:", "Question:", "Please solve this.", "Here is a task for you."]
REPHRASE_PREFIXES = [
    "Could you help me with this?",
    "I need an answer to the following.",
    "Try this one:",
]
VARIANTS = ("verbatim", "light", "rephrased")
#: (benchmark, item id) -> normalised text, filled by build().  Items identical after normalisation (BBH's Dyck-language
#: items differ only in brackets) cannot be told apart by any n-gram method: a hit on a twin counts.
text_key: dict[tuple[str, str], str] = {}


def found_in(hit_items: set[tuple[str, str]], name: str, item_id: str) -> bool:
    return any(
        b == name and (i == item_id or text_key.get((b, i)) == text_key[(name, item_id)])
        for b, i in hit_items
    )


def present(fields: list[str], order: list[int] | None = None) -> str:
    """The item as a prompt: main text, then options labelled A., B., ... when it has options."""
    if len(fields) == 1:
        return fields[0]
    opts = [fields[1 + k] for k in (order or range(len(fields) - 1))]
    return fields[0] + "\n" + "\n".join(f"{chr(65 + k)}. {o}" for k, o in enumerate(opts))


def light(fields: list[str], rng: random.Random) -> str:
    order = list(range(len(fields) - 1))
    rng.shuffle(order)
    text = present(fields, order)
    edit = rng.choice(["upper", "lower", "space"])
    if edit == "upper":
        text = text.upper()
    elif edit == "lower":
        text = text.lower()
    else:
        text = re.sub(r" ", lambda _: rng.choice([" ", "  ", "\n"]), text)
    return f"{rng.choice(PREFIXES)} {text}"


def rephrase(fields: list[str], rng: random.Random) -> tuple[str, float]:
    """Synonym swaps plus clause reordering; returns the text and the share of words replaced."""
    text = present(fields)
    tokens = re.split(r"(\W+)", text)
    changed = words = 0
    for k, tok in enumerate(tokens):
        if tok and tok[0].isalnum():
            words += 1
            syn = SYNONYMS.get(tok.lower())
            if syn and rng.random() < 0.9:
                tokens[k] = syn
                changed += 1
    text = "".join(tokens)
    head, _, options = text.partition("\n")
    sentences = re.split(r"(?<=[.?!])\s+", head)
    if len(sentences) > 1:  # move the question (last sentence) to the front
        sentences = sentences[-1:] + sentences[:-1]
    else:
        clauses = head.split(", ")
        sentences = [", ".join(clauses[1:] + clauses[:1])] if len(clauses) > 1 else clauses
    body = " ".join(sentences) + (("\n" + options) if options else "")
    return f"{rng.choice(REPHRASE_PREFIXES)} {body}", changed / max(words, 1)


#: For ``restate`` (report split only): contractions and filler the tune split never saw.
CONTRACT = {
    "do not": "don't",
    "does not": "doesn't",
    "is not": "isn't",
    "cannot": "can't",
    "it is": "it's",
    "what is": "what's",
    "how many": "how many total",
    "there are": "we have",
}
RESTATE_FRAMES = [
    "My homework says: {}",
    "{}\n\nWhat's the answer? Show your reasoning.",
    "I was given this in class and I'm stuck.\n{}",
    "Can you work this out for me? {}",
]


def restate(fields: list[str], rng: random.Random) -> tuple[str, float]:
    """A second rephrasing: articles dropped, contractions, synonyms, options relabelled 1-4, a frame."""
    text = present(fields)
    for a, b in CONTRACT.items():
        text = re.sub(rf"\b{a}\b", b, text, flags=re.IGNORECASE)
    tokens = re.split(r"(\W+)", text)
    changed = words_n = 0
    for k, tok in enumerate(tokens):
        if tok and tok[0].isalnum():
            words_n += 1
            low = tok.lower()
            if low in ("a", "an", "the") and rng.random() < 0.6:
                tokens[k] = ""
                changed += 1
            elif (syn := SYNONYMS.get(low)) and rng.random() < 0.7:
                tokens[k] = syn
                changed += 1
    text = re.sub(r"[ \t]+", " ", "".join(tokens))
    text = re.sub(r"^([A-Z])\. ", lambda m: f"({ord(m.group(1)) - 64}) ", text, flags=re.MULTILINE)
    return rng.choice(RESTATE_FRAMES).format(text.strip()), changed / max(words_n, 1)


def real_records(path: Path, n: int) -> list[dict]:
    log = RunLog(None, None)
    recs = [r for t in read_tables([str(path)], log) for r in to_records(t)]
    return recs[:n]


def build(
    bench_dir: Path, names: list[str], per: int, real: list[dict], seed: int, split: str = "tune"
) -> tuple[list[dict], dict, float]:
    rng = random.Random(f"{seed}-{split}")
    pick = random.Random(seed)  # the same item order in both splits, cut in two
    donors = iter(rng.sample(real, len(real)))
    truth: dict[str, tuple[str, str, str]] = {}
    planted, replaced = [], []
    for name in names:
        bench = load(name, bench_dir)
        for item_id, fields in zip(bench.ids, bench.fields, strict=True):
            text_key[(name, item_id)] = " ".join(words("\n".join(fields)))
        order = pick.sample(range(len(bench)), min(2 * per, len(bench)))
        half = order[: len(order) // 2] if split == "tune" else order[len(order) // 2 :]
        for k in half:
            # Multi-turn items (MT-Bench) are planted as conversations, one user turn per benchmark turn.
            parts = [[t] for t in bench.embed[k]] if len(bench.embed[k]) > 1 else [bench.fields[k]]
            for variant in VARIANTS:
                turns = []
                for fields in parts:
                    if variant == "verbatim":
                        turns.append(present(fields))
                    elif variant == "light":
                        turns.append(light(fields, rng))
                    else:
                        text, share = (rephrase if split == "tune" else restate)(fields, rng)
                        turns.append(text)
                        replaced.append(share)
                donor = next(donors, None) or rng.choice(real)
                rid = f"planted/{name}/{variant}/{bench.ids[k]}"
                reply = next(
                    (m["content"] for m in donor["messages"] if m["role"] == "assistant"), ""
                )
                messages = [
                    m
                    for t in turns
                    for m in (
                        {"role": "user", "content": t},
                        {"role": "assistant", "content": reply},
                    )
                ]
                planted.append({"id": rid, "source": "planted", "meta": {}, "messages": messages})
                truth[rid] = (name, variant, bench.ids[k])
    return planted, truth, float(np.mean(replaced)) if replaced else 0.0


def flags(hits_path: Path) -> dict[str, dict[str, set[tuple[str, str]]]]:
    """record id -> method -> {(benchmark, item id)} of contaminated verdicts."""
    out: dict[str, dict[str, set[tuple[str, str]]]] = defaultdict(lambda: defaultdict(set))
    for line in hits_path.read_bytes().splitlines():
        h = orjson.loads(line)
        if h["verdict"] == "contaminated":
            out[h["id"]][h["method"]].add((h["benchmark"], h["benchmark_id"]))
    return out


def run_step(
    records: list[dict], names: list[str], bench_dir: Path, cache_dir: Path, tmp: Path, **kw: object
) -> tuple[dict, dict[str, float], dict]:
    src = tmp / "in.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    step = Decontaminate(
        benchmark=names, benchmark_dir=bench_dir, mode="flag", cache_dir=cache_dir, **kw
    )
    summary = run([str(src)], tmp / "out.jsonl", [step])
    cos = {}
    for line in (tmp / "out.jsonl").read_bytes().splitlines():
        r = orjson.loads(line)
        cos[r["id"]] = (r.get("scores") or {}).get("decontam.cosine", float("nan"))
    return flags(tmp / "out.hits.jsonl"), cos, summary


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:6.2f}% ({a}/{b})" if b else "   n/a"


NEGATIVES = {
    "tune": [("alpaca_sample_2k", 2000)],
    "report": [
        ("alpaca_sample_1k", 1000),
        ("gpteacher_roleplay", 1500),
        ("lima_alpaca_format", 500),
    ],
}


def recall_rows(
    names: list[str], truth: dict, got: dict, tiers: dict[str, set[str]]
) -> dict[str, dict]:
    table: dict[str, dict] = {}
    for name in [*names, "ALL"]:
        for variant in VARIANTS:
            ids = [
                r for r, (b, v, _) in truth.items() if v == variant and (name == "ALL" or b == name)
            ]
            row = {}
            for tier, methods in tiers.items():
                found = sum(
                    any(
                        found_in(got.get(r, {}).get(m, set()), truth[r][0], truth[r][2])
                        for m in methods
                    )
                    for r in ids
                )
                row[tier] = (found, len(ids))
            table[f"{name}/{variant}"] = row
    return table


def sweep(hits_path: Path) -> None:
    """Recall and false positives of the embedding decision rule over a grid, from one run's hits
    (run with ``--band 0.5 --keep-hits``): how COMBINED_COSINE / COMBINED_LEXICAL were chosen."""
    truth = json.loads(hits_path.with_suffix(".truth.json").read_text())
    hits = [orjson.loads(x) for x in hits_path.read_bytes().splitlines()]
    ngram = {h["id"] for h in hits if h["method"] == "ngram" and h["verdict"] == "contaminated"}
    emb = [h for h in hits if h["method"] == "embedding"]
    print("| cos >= | or cos >= & containment >= | verbatim | light | rephrased | FP records |")
    print("|---|---|---|---|---|---|")
    for t in (0.85,):
        for cc in (0.6, 0.65, 0.7, 0.75, 0.8):
            for cl in (0.4, 0.5, 0.6, 0.7, 0.8):
                flagged = set(ngram)
                for h in emb:
                    lex = h.get("containment", 0.0)
                    if h["score"] >= t or (h["score"] >= cc and lex >= cl):
                        if h["id"] not in truth or (h["benchmark"], h["benchmark_id"]) == (
                            truth[h["id"]][0],
                            truth[h["id"]][2],
                        ):
                            flagged.add(h["id"])
                row = []
                for v in VARIANTS:
                    vs = [r for r, (_, var, _) in truth.items() if var == v]
                    row.append(f"{100 * sum(r in flagged for r in vs) / len(vs):.1f}%")
                fp = sum(1 for i in flagged if i not in truth)
                print(f"| {t} | {cc} & {cl} | " + " | ".join(row) + f" | {fp} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--benchmarks", default="mmlu,gsm8k,humaneval,truthfulqa,math")
    ap.add_argument("--split", choices=["tune", "report"], default="report")
    ap.add_argument("--per-benchmark", type=int, default=40)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--no-full", action="store_true", help="skip the search=full baseline run")
    ap.add_argument("--band", type=float, default=None, help="suspicious band (tuning: 0.5)")
    ap.add_argument("--keep-hits", type=Path, default=None, help="copy the default run's hits here")
    ap.add_argument(
        "--known", action="store_true", help="also run the known overlaps of shared/data"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--sweep", type=Path, default=None, help="only sweep the rule over kept hits")
    args = ap.parse_args()
    if args.sweep:
        return sweep(args.sweep)
    if not (args.data / "benchmarks").is_dir():
        sys.exit(f"no benchmarks under {args.data} (pass --data)")
    names = args.benchmarks.split(",")
    bench_dir = args.data / "benchmarks"
    cache_dir = args.cache_dir or Path(tempfile.gettempdir()) / "instructkit-eval-cache"
    negatives = [
        r
        for folder, n in NEGATIVES[args.split]
        for r in real_records(args.data / "instructions" / folder, n)
    ]
    planted, truth, replaced = build(
        bench_dir, names, args.per_benchmark, negatives, args.seed, args.split
    )
    runs = {"lexical": {}} if args.no_full else {"lexical": {}, "full": {"search": "full"}}
    got: dict[str, dict] = {}
    result: dict = {"split": args.split, "planted": len(planted), "negatives": len(negatives)}
    for label, kw in runs.items():
        t0 = time.perf_counter()
        kw = kw | ({"suspicious_band": args.band} if args.band is not None else {})
        with tempfile.TemporaryDirectory() as tmp:
            got[label], _, summary = run_step(
                negatives + planted, names, bench_dir, cache_dir, Path(tmp), **kw
            )
            if args.keep_hits and label == "lexical":
                args.keep_hits.write_bytes((Path(tmp) / "out.hits.jsonl").read_bytes())
                (args.keep_hits.with_suffix(".truth.json")).write_text(json.dumps(truth))
        result[f"{label}_seconds"] = time.perf_counter() - t0
        result[f"{label}_summary"] = summary["steps"]["decontaminate"]
    print(
        f"# split {args.split}: {len(planted)} planted ({args.per_benchmark}/benchmark x {len(VARIANTS)} variants), "
        f"{len(negatives)} unplanted real records; rephrased: {100 * replaced:.0f}% of words replaced on average; "
        + ", ".join(f"{k} run {result[f'{k}_seconds']:.0f} s" for k in runs)
    )
    columns = {
        "ngram": ("lexical", {"ngram"}),
        "embedding (default)": ("lexical", {"embedding"}),
        "default (both tiers)": ("lexical", {"ngram", "embedding", "llm"}),
    }
    if "full" in runs:
        columns["raw cosine >= 0.85 (full)"] = ("full", {"embedding"})
    tables = {
        c: recall_rows(names, truth, got[run], {c: tiers}) for c, (run, tiers) in columns.items()
    }
    print(f"\n| benchmark | variant | {' | '.join(columns)} |\n|---|---|{'---|' * len(columns)}")
    for key in tables[next(iter(columns))]:
        name, variant = key.split("/")
        print(
            f"| {name} | {variant} | " + " | ".join(pct(*tables[c][key][c]) for c in columns) + " |"
        )
    fp = {
        c: sum(any(got[run].get(r["id"], {}).get(m) for m in tiers) for r in negatives)
        for c, (run, tiers) in columns.items()
    }
    print(
        "| unplanted real | false positives | "
        + " | ".join(pct(fp[c], len(negatives)) for c in columns)
        + " |"
    )
    flagged = [r for r in negatives if got["lexical"].get(r["id"])]
    print("\nflagged unplanted records (inspect: some may be real overlaps):")
    for r in flagged[:20]:
        print(f"  {r['id']} {r['source']}: {dict(got['lexical'][r['id']])}")
    result |= {
        "table": {c: {k: v[c] for k, v in t.items()} for c, t in tables.items()},
        "false_positives": {c: fp[c] / len(negatives) for c in columns},
        "replaced_share": replaced,
    }
    if args.known:
        result["known"] = known(args.data, cache_dir, {})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))


def known(data: Path, cache_dir: Path, kw: dict) -> dict:
    """The issue's ground truth: flagged share per tier of three known (non-)overlaps."""
    cases = [
        ("ifeval_gpt4_responses", "ifeval", ">= 99%"),
        ("self_instruct_user_oriented_eval", "alpaca_eval", ">= 99%"),
        ("gsm8k_train_alpaca_format", "gsm8k", "<= 0.5%"),
    ]
    out = {}
    print(
        "\n# known overlaps in shared/data\n| input | benchmark | target | ngram | embedding | combined |\n|---|---|---|---|---|---|"
    )
    for folder, name, target in cases:
        recs = real_records(data / "instructions" / folder, 10**9)
        with tempfile.TemporaryDirectory() as tmp:
            got, _, _ = run_step(recs, [name], data / "benchmarks", cache_dir, Path(tmp), **kw)
        n = {
            t: sum(any(got.get(r["id"], {}).get(m) for m in ms) for r in recs)
            for t, ms in {
                "ngram": ["ngram"],
                "embedding": ["embedding"],
                "combined": ["ngram", "embedding", "llm"],
            }.items()
        }
        out[folder] = {t: v / len(recs) for t, v in n.items()} | {"records": len(recs)}
        print(
            f"| {folder} | {name} | {target} | "
            + " | ".join(pct(n[t], len(recs)) for t in n)
            + " |"
        )
    return out


if __name__ == "__main__":
    main()
