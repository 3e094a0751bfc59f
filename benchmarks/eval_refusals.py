"""Precision and recall of ``refusal`` on hand-labelled real ShareGPT V3 responses.

    .venv/bin/python benchmarks/eval_refusals.py [--baseline-library OLD.yaml] [--show-errors SPLIT] [--report]
    .venv/bin/python benchmarks/eval_refusals.py --speed 20000 [--baseline-library OLD.yaml]
    .venv/bin/python benchmarks/eval_refusals.py --unlabelled 10000 --drops OUT.tsv [--compare OLD.tsv] [--sample 30]
    .venv/bin/python benchmarks/eval_refusals.py --report --judge-url URL --judge-model NAME | --offline-llm [--llm-splits report5,report6]

Labels (conversation position, id, turn and my label; the text is read from the
ShareGPT V3 dump at run time, see benchmarks/_sharegpt_v3.py).  First
exchanges, labelled by reading every response before any detector was run on it:

tests/data/refusal_labels_sharegpt_v3.jsonl (session 3):

- ``tune``: conversations 3,000-7,999, 200 at random + 250 candidates (a broad
  keyword filter: sorry, cannot, not aware, AI, ...).
- ``heldout``: conversations 8,000-17,670, 400 at random + 350 candidates.  It
  was scored, and its misses read, in session 3: since then it is tuning data.

tests/data/refusal_labels_sharegpt_v3_fresh.jsonl (session 4, drawn by
benchmarks/sample_refusals_fresh.py from conversations no earlier label file
names: uniform + generic cue words + short responses):

- ``fresh-tune``: 30% by a seeded coin; patterns and judge were tuned on it.
- ``fresh-report``: the rest; scored once, at commit 0cdae29
  (benchmarks/results/eval_refusals_fresh.txt), then its misses were read and
  it became tuning data too.

tests/data/refusal_labels_sharegpt_v3_early.jsonl (``report2``): first exchanges
of conversations 0-2,999 that no earlier file labelled, cue-word filtered,
labelled after the fresh report was scored and before any run on them.  Scored
once (benchmarks/results/eval_refusals_report2.txt), then read: tuning data since.

tests/data/refusal_labels_sharegpt_v3_second.jsonl (``report3``, session 4b):
SECOND exchanges (user turn 2 and its reply) of conversations 3,000 or later,
40 uniform + 340 with a generic cue word (benchmarks/sample_refusals_fresh.py
--second), labelled by reading and committed before any detector ran on them.
Scored once (benchmarks/results/eval_refusals_report3.txt), then its misses
were read: tuning data since session 5.

tests/data/refusal_labels_sharegpt_v3_third.jsonl (``report4``, session 5):
THIRD exchanges, labelled by another reader while the detector was being
changed; scored once by the lead (benchmarks/results/eval_refusals_report4.txt),
then read: tuning data since session 5 round 2.

tests/data/refusal_labels_sharegpt_v3_fourth.jsonl (``report5``, session 5
round 2): FOURTH exchanges of conversations 3,000 or later, labelled by another
reader while the detector was being changed, never read or run on by whoever
tuned it; scored once (benchmarks/results/eval_refusals_report5.txt), then
read: tuning data since session 6.

tests/data/refusal_labels_sharegpt_v3_fifth.jsonl (``report6``, session 6):
FIFTH exchanges, drawn the same way (``sample_refusals_fresh.py --fifth``) and
labelled by another reader before any detector ran on them; scored only with
``--report``, once.  Absent until that file is committed.

``refusal`` = the response gives none of what was asked (declines, cannot,
does not know / is not familiar with X, cannot tell what is meant and asks back).
Partial answers that open with "I can't ..." and then deliver, and answers that
talk about being an AI ("As an AI language model, I don't have feelings, but
...") are not refusals (the latter are labelled ``ai_reference``: GPT-isms).

``--unlabelled N`` checks the detector where no label can: N assistant turns
drawn at random (seeded) from conversations 3,000 or later, leaving out every
labelled turn and every third, fourth and fifth exchange (the report4-6
positions; report6's labels must stay unseen); it writes the turns ``clean`` would drop as refusals to
``--drops`` and, with ``--compare`` (the same file written by an older
detector, e.g. with PYTHONPATH pointing at an older commit's src), counts the
drops that are new and prints ``--sample`` of them at random for reading.

Methods: the phrase-list baseline used to clean ShareGPT for "unfiltered"
models (substring match), the pattern library alone (any refusal opener fires),
the default decision (opener + judge, as ``clean`` decides) and, with
``--judge-url`` or ``--offline-llm``, ``clean --judge-url``'s decision (the LLM
asked about every opener turn of ``--llm-splits``; where it gives no verdict, the
built-in judge's).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sharegpt_v3 import ASSISTANT, ROOT, conversations, find_dump  # noqa: E402

from instructkit.clean.prescan import RuleGate  # noqa: E402
from instructkit.clean.refusal_judge import default_judge, first_refusal  # noqa: E402
from instructkit.clean.refusals import PatternLibrary  # noqa: E402

#: A phrase list of the kind used to clean ShareGPT for Vicuna-style "unfiltered" models (substring match).
BASELINE_PHRASES = [
    "as an ai",
    "as a language model",
    "as an ai language model",
    "language model",
    "i'm sorry",
    "i am sorry",
    "i apologize, but",
    "i cannot",
    "i can't",
    "cannot provide",
    "can't provide",
    "not able to provide",
    "i'm not able to",
    "i am not able to",
    "unable to",
    "i don't have the ability",
    "my knowledge cutoff",
    "knowledge cut off",
    "september 2021",
    "not appropriate",
    "it is not possible",
    "i'm an ai",
    "i am an ai",
    "against my programming",
    "ethical guidelines",
    "unfortunately, i cannot",
    "i'm afraid i cannot",
    "not within the scope",
]


SESSION3 = ROOT / "tests/data/refusal_labels_sharegpt_v3.jsonl"
FRESH = ROOT / "tests/data/refusal_labels_sharegpt_v3_fresh.jsonl"
EARLY = ROOT / "tests/data/refusal_labels_sharegpt_v3_early.jsonl"
SECOND = ROOT / "tests/data/refusal_labels_sharegpt_v3_second.jsonl"
THIRD = ROOT / "tests/data/refusal_labels_sharegpt_v3_third.jsonl"
FOURTH = ROOT / "tests/data/refusal_labels_sharegpt_v3_fourth.jsonl"
FIFTH = ROOT / "tests/data/refusal_labels_sharegpt_v3_fifth.jsonl"
#: The held-out set ``--report`` scores, and its split name.
REPORT, REPORT_SPLIT = FIFTH, "report6"
#: Label file -> prefix of its split names; every set but report6 is tuning data now.
TUNING = {SESSION3: "", FRESH: "fresh-", EARLY: "", SECOND: "", THIRD: "", FOURTH: ""}
TUNING_SPLITS = (
    "tune",
    "heldout",
    "fresh-tune",
    "fresh-report",
    "report2",
    "report3",
    "report4",
    "report5",
)


def labelled_exchanges(dump: Path, files: dict[Path, str]) -> list[tuple[dict, str, str]]:
    """(label row, user turn, response) of every row of ``files`` (split names prefixed as given).

    The user turn is the message just before the labelled response ("" when that
    is not a user message); the conversation id must match the label.
    """
    rows = [
        {**json.loads(line), "_prefix": prefix}
        for f, prefix in files.items()
        for line in f.read_text().splitlines()
    ]
    wanted = {r["idx"] for r in rows}
    convs = {i: c for i, c in enumerate(conversations(dump)) if i in wanted}
    out = []
    for r in rows:
        conv = convs[r["idx"]]
        if conv.get("id") != r["id"]:
            sys.exit(f"{dump}: conversation {r['idx']} is {conv.get('id')}, labels say {r['id']}")
        turns = conv["conversations"]
        if turns[r["turn"]].get("from") not in ASSISTANT:
            sys.exit(f"{dump}: conversation {r['idx']} turn {r['turn']} is not an assistant turn")
        prev = turns[r["turn"] - 1] if r["turn"] > 0 else {}
        user = prev.get("value") or "" if prev.get("from") in ("human", "user") else ""
        row = {k: v for k, v in r.items() if k != "_prefix"}
        row["split"] = r["_prefix"] + row["split"]
        out.append((row, user, turns[r["turn"]]["value"]))
    return out


def prf(pred: list[bool], gold: list[bool]) -> dict[str, float]:
    tp = sum(p and g for p, g in zip(pred, gold))
    fp = sum(p and not g for p, g in zip(pred, gold))
    fn = sum(g and not p for p, g in zip(pred, gold))
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
    }


def decide(lib: PatternLibrary, text: str, user: str) -> tuple[bool, bool]:
    """(a refusal opener fires, clean drops it as a refusal)."""
    opener = first_refusal(lib.find(text))
    if opener is None:
        return False, False
    return True, default_judge().judge(text, opener, lib.rule_of(opener).lang, user).refusal


def ask_llm(
    url: str | None, model: str | None, pairs: list[tuple[str, str]]
) -> tuple[str, list[bool | None]]:
    """clean's LLM refusal judge on (request, reply) pairs: at ``url``, or on the offline SmolLM2
    server; answers cached in ~/.cache/instructkit/eval_refusals_llm.sqlite."""
    from contextlib import nullcontext

    from instructkit.clean.refusal_llm import refusal_llm_judge
    from instructkit.llm.server import LocalServer

    cache = Path.home() / ".cache/instructkit/eval_refusals_llm.sqlite"
    cache.parent.mkdir(parents=True, exist_ok=True)
    with nullcontext(None) if url else LocalServer() as srv:
        base, name = (url, model) if url else (srv.base_url, srv.model)
        judge = refusal_llm_judge(base, name, cache, concurrency=8 if url else 1)
        t0 = time.perf_counter()
        says = judge.judge(pairs)
        summary = judge.summary()
    print(
        f"LLM judge {name}: {len(pairs)} opener turns asked in {time.perf_counter() - t0:.1f} s; "
        f"unclear {summary['unclear']}, failed {summary['failed']}, cached {summary.get('cached')}"
    )
    return name, says


def time_decisions(dump: Path, n: int, rounds: int, baseline: Path | None) -> None:
    """CPU seconds to decide refusal (patterns + judge, as ``clean`` does) for the first ``n`` assistant turns.

    CPU time, not wall time, because the machine is shared.  With ``baseline``
    (an older pattern library) the two libraries alternate in one process on the
    same turns, both followed by the current judge; the counts show the work done.
    Each library is timed twice: scanning every turn with the whole library, and
    as ``clean`` scans it, through the rule gate (clean/prescan.py) that keeps,
    per turn, a library of only the rules that can match it.
    """
    turns: list[tuple[str, str]] = []
    for conv in conversations(dump):
        user = ""
        for m in conv.get("conversations") or []:
            if m.get("from") in ASSISTANT and len(turns) < n:
                turns.append((user, m.get("value") or ""))
            elif m.get("from") in ("human", "user"):
                user = m.get("value") or ""
        if len(turns) >= n:
            break
    libs = {"current library": PatternLibrary.load()}
    if baseline is not None:
        libs = {f"baseline {baseline}": PatternLibrary.load(baseline), **libs}
    judge = default_judge()
    for r in range(rounds):
        for name, lib in libs.items():
            for gated in (False, True):
                gate = RuleGate({k: rule.pattern for k, rule in lib.rules.items()})
                cut: dict[frozenset[str], PatternLibrary] = {}
                t0 = time.process_time()
                fired = dropped = 0
                for user, text in turns:
                    scan = lib
                    if gated:
                        keys = gate.possible(text)
                        if keys not in cut:
                            cut[keys] = PatternLibrary(
                                [v for k, v in lib.rules.items() if k in keys]
                            )
                        scan = cut[keys]
                    opener = first_refusal(scan.find(text))
                    if opener is None:
                        continue
                    fired += 1
                    lang = lib.rule_of(opener).lang
                    dropped += judge.judge(text, opener, lang, user).refusal
                took = time.process_time() - t0
                print(
                    f"round {r + 1}, {name}{', gated' if gated else ''}: {len(turns)} assistant turns "
                    f"in {took:.1f} s CPU ({fired} openers, {dropped} refusals)"
                )


UNLABELLED_SEED = 1505


def unlabelled_turns(dump: Path, n: int) -> list[tuple[int, int, str, str]]:
    """(conversation, turn, user turn, response) of ``n`` unlabelled assistant turns (see the module docstring)."""
    labelled = {
        (r["idx"], r["turn"]) for f in TUNING for r in map(json.loads, f.read_text().splitlines())
    }
    pool = []
    for idx, conv in enumerate(conversations(dump)):
        if idx < 3000:
            continue
        turns = conv.get("conversations") or []
        answers = [i for i, m in enumerate(turns) if m.get("from") in ASSISTANT]
        # The third to fifth assistant turns, and the turns two after the second to fourth
        # exchanges: any may be report4's, report5's or report6's (the last must stay unseen).
        late = {answers[k] for k in (2, 3, 4) if len(answers) > k}
        late |= {answers[k] + 2 for k in (1, 2, 3) if len(answers) > k}
        for i in answers:
            text = turns[i].get("value") or ""
            if (idx, i) in labelled or i in late or not text.strip():
                continue
            prev = turns[i - 1] if i > 0 else {}
            user = prev.get("value") or "" if prev.get("from") in ("human", "user") else ""
            pool.append((idx, i, user, text))
    return random.Random(UNLABELLED_SEED).sample(pool, min(n, len(pool)))


def check_unlabelled(dump: Path, n: int, out: Path, old: Path | None, sample: int) -> None:
    """Write the refusal drops among ``n`` unlabelled turns; with ``old``, count and show the new ones."""
    lib, judge = PatternLibrary.load(), default_judge()
    drops = {}
    turns = {(idx, turn): (user, text) for idx, turn, user, text in unlabelled_turns(dump, n)}
    for (idx, turn), (user, text) in turns.items():
        opener = first_refusal(lib.find(text))
        if opener is None:
            continue
        j = judge.judge(text, opener, lib.rule_of(opener).lang, user)
        if j.refusal:
            drops[(idx, turn)] = (opener.rule, j.probability, user, text)
    out.write_text("".join(f"{i}\t{t}\t{d[0]}\t{d[1]:.2f}\n" for (i, t), d in drops.items()))
    rules = Counter(d[0] for d in drops.values())
    print(
        f"{len(drops)} refusal drops among {n} unlabelled assistant turns: {dict(rules.most_common())}"
    )
    if old is None:
        return
    before = {
        (int(i), int(t)): rule
        for i, t, rule, _ in (line.split("\t") for line in old.read_text().splitlines())
    }
    new = sorted(set(drops) - set(before))
    gone = sorted(set(before) - set(drops))
    print(f"{len(new)} not dropped by {old}; {len(gone)} of its drops no longer dropped")
    print(f"new drops by rule: {dict(Counter(drops[k][0] for k in new).most_common())}")
    print(f"no longer dropped, by its rule: {dict(Counter(before[k] for k in gone).most_common())}")
    rng = random.Random(UNLABELLED_SEED)
    for what, keys in (("new drop", new), ("no longer dropped", gone)):
        for k in sorted(rng.sample(keys, min(sample, len(keys)))):
            user, text = turns[k]
            rule = drops[k][0] if k in drops else before[k]
            print(f"\n--- {what} #{k[0]} turn {k[1]} rule {rule}")
            print(f"USER: {user[:300]!r}\nREPLY: {text[:600]!r}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline-library", type=Path, help="an older pattern library to compare")
    ap.add_argument("--show-errors", choices=(*TUNING_SPLITS, REPORT_SPLIT))
    ap.add_argument(
        "--report", action="store_true", help=f"also score the held-out {REPORT_SPLIT} set"
    )
    ap.add_argument("--speed", type=int, metavar="N", help="only time the first N assistant turns")
    ap.add_argument("--unlabelled", type=int, metavar="N", help="drops among N unlabelled turns")
    ap.add_argument("--drops", type=Path, help="where --unlabelled writes the drops (TSV)")
    ap.add_argument("--compare", type=Path, help="drops of an older detector (--drops of it)")
    ap.add_argument("--sample", type=int, default=30, help="new drops to print for reading")
    ap.add_argument("--judge-url", help="also score clean --judge-url (OpenAI-compatible /v1)")
    ap.add_argument("--judge-model", help="the model name for --judge-url")
    ap.add_argument(
        "--offline-llm", action="store_true", help="the LLM judge on the bundled SmolLM2 server"
    )
    ap.add_argument(
        "--llm-splits",
        default="report5,report6",
        help="splits whose opener turns the LLM judge is asked about (comma-separated)",
    )
    args = ap.parse_args()
    if bool(args.judge_url) != bool(args.judge_model):
        sys.exit("error: --judge-url and --judge-model go together")
    if args.show_errors == REPORT_SPLIT and not args.report:
        sys.exit(f"error: --show-errors {REPORT_SPLIT} needs --report")
    if args.report and not REPORT.is_file():
        sys.exit(f"error: --report needs the held-out labels {REPORT.relative_to(ROOT)}")
    dump = find_dump()
    if dump is None:
        sys.exit("error: the ShareGPT V3 dump is absent (see benchmarks/_sharegpt_v3.py)")
    if args.speed:
        time_decisions(dump, args.speed, 3, args.baseline_library)
        return
    if args.unlabelled:
        if args.drops is None:
            sys.exit("error: --unlabelled needs --drops OUT.tsv")
        check_unlabelled(dump, args.unlabelled, args.drops, args.compare, args.sample)
        return
    files = {**TUNING, REPORT: ""} if args.report else TUNING
    exchanges = labelled_exchanges(dump, files)
    items = [(r, t) for r, _, t in exchanges]
    users = [u for _, u, _ in exchanges]
    lib = PatternLibrary.load()
    old = PatternLibrary.load(args.baseline_library) if args.baseline_library else None
    decided = [decide(lib, t, u) for (_, t), u in zip(items, users)]
    print(f"ShareGPT V3: {dump}")
    llm_splits = set(args.llm_splits.split(","))
    asked = [i for i, (r, _) in enumerate(items) if r["split"] in llm_splits and decided[i][0]]
    llm_name, llm_says = None, {}
    if args.judge_url or args.offline_llm:
        llm_name, verdicts = ask_llm(
            args.judge_url, args.judge_model, [(users[i], items[i][1]) for i in asked]
        )
        llm_says = dict(zip(asked, verdicts, strict=True))
    splits = ["tune", "heldout", "heldout/random", "fresh-tune", "fresh-report", "report2"]
    splits += ["report3", "report3/uniform", "report4", "report4/uniform"]
    splits += ["report5", "report5/uniform", "all"]
    if args.report:
        splits += [REPORT_SPLIT, f"{REPORT_SPLIT}/uniform"]
    for split in splits:
        name, _, pool = split.partition("/")
        idx = [
            i
            for i, (r, _) in enumerate(items)
            if (r["split"] == name or (name == "all" and r["split"] in TUNING_SPLITS))
            and (not pool or r.get("pool") == pool)
        ]
        gold = [items[i][0]["label"] == "refusal" for i in idx]
        n = {
            k: sum(1 for i in idx if items[i][0]["label"] == k)
            for k in ("refusal", "ai_reference", "none")
        }
        print(f"\n### {split}: {len(idx)} labelled responses {n}")
        print(
            "| method | precision | recall | tp | fp | fn |\n| --- | ---: | ---: | ---: | ---: | ---: |"
        )
        methods = [
            (
                "phrase-list baseline",
                [any(p in items[i][1].lower() for p in BASELINE_PHRASES) for i in idx],
            ),
        ]
        if old is not None:
            methods.append(
                (
                    f"old library ({args.baseline_library.name})",
                    [first_refusal(old.find(items[i][1])) is not None for i in idx],
                )
            )
        methods += [
            ("pattern library alone", [decided[i][0] for i in idx]),
            ("patterns + judge (clean default)", [decided[i][1] for i in idx]),
        ]
        if llm_name and all(items[i][0]["split"] in llm_splits for i in idx):
            methods.append(
                (
                    f"patterns + LLM judge ({llm_name})",
                    # not asked (no opener) or no verdict: the built-in judge's, as in clean
                    [decided[i][1] if llm_says.get(i) is None else llm_says[i] for i in idx],
                )
            )
        for label, pred in methods:
            s = prf(pred, gold)
            print(
                f"| {label} | {s['precision']:.3f} | {s['recall']:.3f} | {s['tp']} | {s['fp']} | {s['fn']} |"
            )
        if args.show_errors == name and not pool:
            for i, g in zip(idx, gold):
                if decided[i][1] != g:
                    r, t = items[i]
                    print(
                        f"  {'FP' if decided[i][1] else 'FN'} #{r['idx']} {r['label']} {r['note']}: {t[:160]!r}"
                    )


if __name__ == "__main__":
    main()
