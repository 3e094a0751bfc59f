"""Blind second reading of the report5 refusal labels, to measure how far two readers agree.

    PYTHONPATH=src .venv/bin/python benchmarks/relabel_refusals.py --show 0-39

Why: the refusal detector is judged against labels one reader made by reading
real ShareGPT replies (precision >= 0.90, recall >= 0.85 for ``refusal``).  How
reliable those labels are bounds what the targets can show: if a second careful
reader finds only ~80% of the first reader's refusals, a recall of 0.85 is at the
edge of what the labels can tell apart.  So a second reader re-labels a seeded
sample of the report5 set (fourth exchanges,
tests/data/refusal_labels_sharegpt_v3_fourth.jsonl) without seeing the first
reader's labels, notes or any detector output, and the two are compared.

Blindness: :func:`sample` reads only the ``idx``, ``id``, ``turn`` and ``pool``
fields of the first reader's file; ``--show`` prints the exchange the way
``sample_refusals_fresh.py --fourth --show`` showed it to the first reader (end
of the previous reply, the user turn, the reply's head and tail), so both
readers saw the same text.  The second reader's labels are in
tests/data/refusal_relabels_sharegpt_v3_fourth.jsonl (idx, id, turn, label,
note); they were committed before the agreement was first computed.

The second reader's rule, fixed from docs/cleaning.md ("What counts") before any
item was read:

- ``refusal``: the reply gives none of what the user turn asked for.  It
  declines; says it cannot (no access to a link or file, no ability, policy);
  does not know or is not familiar with the thing asked about; cannot tell what
  is meant and asks back; asks for material or details (again) instead of doing
  the work the turn asked for; only points out that the request repeats an
  earlier one; or offers only generic deflection ("consult a professional")
  where an answer was asked for.
- not a refusal: any delivery, however partial ("I can't make a table, but here
  is a list", "I can't open the link, but from the title …", a shorter text
  than asked for), a wrong or weak answer, a continuation, a correction after
  "I apologize for the confusion", and an acknowledgement when the turn only
  set something up ("I will send you the text, reply OK") or asked for nothing.
- ``ai_reference`` (not a refusal): the reply talks about being an AI ("As an
  AI language model, I don't have opinions, but …") and then delivers.
- ``none``: everything else.

``--agreement`` joins the two files and prints the counts, Cohen's kappa on
refusal vs not, each reader scored as a detector against the other, and every
disagreement.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sharegpt_v3 import ROOT, conversations, find_dump  # noqa: E402
from sample_refusals_fresh import FOURTH_LABELS, nth_exchange  # noqa: E402

SEED = 2026
N_SAMPLE = 250
RELABELS = ROOT / "tests/data/refusal_relabels_sharegpt_v3_fourth.jsonl"
#: The only fields of the first reader's file the sample and ``--show`` read.
BLIND_FIELDS = ("idx", "id", "turn", "pool")


def sample() -> list[dict]:
    """The seeded 250 of the report5 items, in idx order, holding only :data:`BLIND_FIELDS`."""
    rows = []
    for line in FOURTH_LABELS.read_text().splitlines():
        r = json.loads(line)
        rows.append({k: r[k] for k in BLIND_FIELDS})
    picked = random.Random(SEED).sample(rows, N_SAMPLE)
    return sorted(picked, key=lambda r: r["idx"])


def show(dump: Path, items: list[dict], lo: int, hi: int) -> None:
    """Print items ``lo``-``hi`` (0-based, idx order) as ``sample_refusals_fresh.py --show`` does."""
    want = {r["idx"]: (n, r) for n, r in enumerate(items) if lo <= n <= hi}
    for idx, conv in enumerate(conversations(dump)):
        if idx not in want:
            continue
        n, r = want[idx]
        turn, user, reply = nth_exchange(conv, 4)  # type: ignore[misc]
        if turn != r["turn"]:
            sys.exit(f"error: #{idx}: the dump gives turn {turn}, the label file {r['turn']}")
        before = conv["conversations"][turn - 2].get("value") or ""
        tail = f" …[{len(reply)}c]… {reply[-200:]!r}" if len(reply) > 600 else ""
        print(
            f"=== {n} #{idx} {r['pool']}\nB: …{before[-200:]!r}\nU: {user[:400]!r}\n"
            f"A: {reply[:600]!r}{tail}\n"
        )


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of k/n: with ~40 refusals a point estimate alone overstates what is known."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, mid - half), min(1.0, mid + half)


def kappa(a: list[bool], b: list[bool]) -> float:
    """Cohen's kappa of two binary labellings: agreement beyond what the two base rates give by chance."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    chance = pa * pb + (1 - pa) * (1 - pb)
    return (observed - chance) / (1 - chance) if chance < 1 else 1.0


def scored(name: str, ref: list[bool], pred: list[bool]) -> str:
    """One line: ``pred`` scored as a refusal detector against ``ref``, with Wilson intervals."""
    tp = sum(r and p for r, p in zip(ref, pred, strict=True))
    npred, nref = sum(pred), sum(ref)
    plo, phi = wilson(tp, npred)
    rlo, rhi = wilson(tp, nref)
    return (
        f"{name}: precision {tp}/{npred} = {tp / npred:.3f} [{plo:.2f}, {phi:.2f}]  "
        f"recall {tp}/{nref} = {tp / nref:.3f} [{rlo:.2f}, {rhi:.2f}]"
    )


def agreement(dump: Path, items: list[dict]) -> None:
    """Join the second reader's labels with the first reader's and print how far they agree."""
    first = {}
    for line in FOURTH_LABELS.read_text().splitlines():
        r = json.loads(line)
        first[(r["idx"], r["turn"])] = r
    second = {}
    for line in RELABELS.read_text().splitlines():
        r = json.loads(line)
        second[(r["idx"], r["turn"])] = r
    keys = [(r["idx"], r["turn"]) for r in items]
    missing = [k for k in keys if k not in second or k not in first]
    if missing:
        sys.exit(f"error: {len(missing)} sampled items lack a label, e.g. {missing[:3]}")
    pools = {k: first[k]["pool"] for k in keys}
    a = [first[k]["label"] == "refusal" for k in keys]
    b = [second[k]["label"] == "refusal" for k in keys]
    print(f"# {len(keys)} report5 items (seed {SEED}), first reader vs blind second reader")
    print("# labels (first reader -> second reader):")
    for (la, lb), n in sorted(
        Counter((first[k]["label"], second[k]["label"]) for k in keys).items()
    ):
        print(f"  {la:>13} -> {lb:<13} {n}")
    both = sum(x and y for x, y in zip(a, b, strict=True))
    print(
        f"# refusal vs not: first {sum(a)}, second {sum(b)}, both {both}, "
        f"neither {sum(not x and not y for x, y in zip(a, b, strict=True))}, "
        f"first only {sum(x and not y for x, y in zip(a, b, strict=True))}, "
        f"second only {sum(y and not x for x, y in zip(a, b, strict=True))}"
    )
    agree = sum(x == y for x, y in zip(a, b, strict=True))
    print(
        f"# raw agreement {agree}/{len(keys)} = {agree / len(keys):.3f}; Cohen's kappa {kappa(a, b):.3f}"
    )
    print("# " + scored("second reader as detector vs first", a, b))
    print("# " + scored("first reader as detector vs second", b, a))
    print("# by pool (first refusals / second refusals / both / items):")
    for pool in sorted(set(pools.values())):
        ks = [i for i, k in enumerate(keys) if pools[k] == pool]
        print(
            f"  {pool:>8}: {sum(a[i] for i in ks)} / {sum(b[i] for i in ks)} / "
            f"{sum(a[i] and b[i] for i in ks)} / {len(ks)}"
        )
    differ = {k[0]: k for k, x, y in zip(keys, a, b, strict=True) if x != y}
    print(f"\n# {len(differ)} disagreements on refusal vs not (idx, first | second, reply head):")
    for idx, conv in enumerate(conversations(dump)):
        if idx not in differ:
            continue
        k = differ[idx]
        reply = conv["conversations"][k[1]].get("value") or ""
        print(
            f"#{idx} turn {k[1]} {pools[k]}\n  first : {first[k]['label']} | {first[k].get('note', '')}\n"
            f"  second: {second[k]['label']} | {second[k]['note']}\n  reply : {reply[:160]!r}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show", help="print the exchanges of sample items A-B (0-based, idx order)")
    ap.add_argument(
        "--agreement",
        action="store_true",
        help="compare with the first reader's labels (only after the relabels are committed)",
    )
    args = ap.parse_args()
    items = sample()
    if args.agreement:
        dump = find_dump()
        if dump is None:
            sys.exit("error: the ShareGPT V3 dump is absent (see benchmarks/_sharegpt_v3.py)")
        agreement(dump, items)
        return
    if not args.show:
        for r in items:
            print(json.dumps(r))
        return
    dump = find_dump()
    if dump is None:
        sys.exit("error: the ShareGPT V3 dump is absent (see benchmarks/_sharegpt_v3.py)")
    lo, hi = (int(x) for x in args.show.split("-"))
    show(dump, items, lo, hi)


if __name__ == "__main__":
    main()
