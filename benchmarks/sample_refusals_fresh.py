"""Draw the fresh refusal-labelling sample (session 4) from the ShareGPT V3 dump, without the detector.

    .venv/bin/python benchmarks/sample_refusals_fresh.py [--show N-M] > /tmp/fresh.tsv

Why a new sample: the earlier held-out split (tests/data/refusal_labels_sharegpt_v3.jsonl)
was read after scoring, so it can no longer tell whether a change generalises.
Every conversation of the package file (17,671) has been used by some earlier
label set (0-2,999 are the shared sample the first patterns came from; 3,000-17,670
gave the tune and heldout splits), so "fresh" here means: a conversation at
position 3,000 or later that no label file names, whose first exchange no one
has read.  The draw never calls the pattern library:

- ``uniform``: 120 first exchanges at random (the natural rate);
- ``cue``: every other response whose first 300 characters hold a generic cue
  word (:data:`CUES`: sorry, cannot, can't, unable, as an AI, not able, ...),
  to have enough refusals to measure recall (only ~375 fresh ones exist: the
  earlier label sets took most);
- ``short``: 60 more at random among responses under 300 characters without a
  cue word (refusals that ask back or say "I don't understand" in other words);
- ``cue2``: every remaining response whose first 300 characters hold a word of
  a second generic list (:data:`CUES2`: not sure, more context, clarify, not
  possible, difficult to, ...).  Added after the first three pools were
  labelled and gave only 54 refusals in the report split; written before any of
  its items was read.

Each item goes to ``tune`` or ``report`` by a seeded coin (30% tune), so the
report split is drawn before anyone looks at it.

``--early`` draws a second, small held-out set after the report split was
scored once (and its misses read): every first exchange of conversations
0-2,999 (the shared sample) whose first 300 characters hold a word of either
list, leaving out the conversations tests/data/refusal_labels.jsonl labelled a
turn of (and their neighbours, as that file counts lines).  All of it is
``report2``.

``--second`` draws the session-4b report set (``report3``), after every earlier
set had been read: SECOND exchanges (user turn 2 and the reply to it) of
conversations 3,000 or later, a position no label file names (they all label
first exchanges).  Seeded (:data:`SEED_SECOND`): :data:`N_SECOND_UNIFORM` at
random, then :data:`N_SECOND_CUE` among the rest whose first 300 characters
hold a word of either cue list.  Never calls the pattern library or the judge.
Those 300 gave 36 refusals, short of the 40 wanted, so :data:`N_SECOND_MORE`
more cue-word items (pool ``cue_more``) were drawn from the rest with the same
generator after they were labelled and committed, before any of the new ones
was read.

``--third`` draws the session-5 report set (``report4``), after every earlier
set had been read and tuned on: THIRD exchanges (user turn 3 and the reply to
it, :func:`nth_exchange` with ``n=3``) of conversations 3,000 or
later, again a position no label file names.  Seeded (:data:`SEED_THIRD`):
:data:`N_THIRD_UNIFORM` at random (``uniform``), :data:`N_THIRD_SHORT` at
random among the rest of the replies under :data:`SHORT_CHARS` characters
without a word of either cue list (``short``), then :data:`N_THIRD_CUE` at
random among the rest whose first 300 characters hold a word of either list
(``cue``).  Written, drawn and labelled by reading (``--third --show A-B``,
which also prints the end of the assistant turn before the user turn, since
mid-conversation replies often only make sense with it) before the detector
ran on any of it; the sampler imports neither the pattern library nor the
judge.  Labels: tests/data/refusal_labels_sharegpt_v3_third.jsonl (draw order).
Order of events: the 400 were drawn, labelled and committed first; they gave
36 refusals, short of the 50 wanted, so :data:`N_THIRD_MORE` more cue-word
items (pool ``cue_more``) were then drawn from the rest with the same
generator (the first 400 do not change), labelled before any detector run
and committed again (47 refusals in all 500).

``--fourth`` draws the next report set (``report5``) the same way, after every
earlier set (up to ``report4``) had been read and tuned on: FOURTH exchanges
(user turn 4 and the reply to it) of conversations 3,000 or later.  Seeded
(:data:`SEED_FOURTH`): :data:`N_FOURTH_UNIFORM` ``uniform``,
:data:`N_FOURTH_SHORT` ``short`` and :data:`N_FOURTH_CUE` ``cue``, drawn in that
order as for ``--third`` (one :func:`draw_later` serves all three; ``--second``
and ``--third`` still draw exactly their committed sets).  Order of events: the
sampler was written and the 500 drawn, then every item was labelled by reading
(``--fourth --show A-B``) and committed
(tests/data/refusal_labels_sharegpt_v3_fourth.jsonl, draw order) before the
detector ran on any of it; the sampler imports neither the pattern library nor
the judge, and :func:`labelled_turns` leaves the new file out so the draw cannot
shift.  The 500 gave 56 refusals (the 50 wanted), so no ``cue_more`` top-up was
drawn.

``--fifth`` draws the next report set (``report6``) the same way, after every
earlier set (up to ``report5``) had been read and tuned on: FIFTH exchanges
(user turn 5 and the reply to it) of conversations 3,000 or later.  Seeded
(:data:`SEED_FIFTH`): :data:`N_FIFTH_UNIFORM` ``uniform``, :data:`N_FIFTH_SHORT`
``short`` and up to :data:`N_FIFTH_CUE` ``cue``, in that order.  The pool of fifth
exchanges (4,076) holds only 371 with a cue word, one of which the uniform draw
took, so ``cue`` has all 370 left and the set 470 items.  Order of events: the
sampler was written and the 470 drawn and committed as an item list
(tests/data/refusal_labels_sharegpt_v3_fifth.jsonl, draw order, no labels) before
any was read; then every item was labelled by reading (``--fifth --show A-B``)
and committed before the detector ran on any of it.  The sampler imports neither
the pattern library nor the judge, and :func:`labelled_turns` leaves the new file
out so the draw cannot shift.  The 470 gave 49 refusals (47 ``cue``, 2 ``short``),
one short of the 50 wanted, but no ``cue_more`` top-up can be drawn: ``cue``
already holds every fifth exchange with a cue word.  Eight pairs of items are
the same exchange under two conversation ids (the dump repeats conversations);
each pair got the same label.

Output: one JSON line per item (idx, id, turn, pool, split); ``--show``
prints the exchanges for labelling.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sharegpt_v3 import ASSISTANT, ROOT, conversations, find_dump  # noqa: E402

SEED = 15
N_UNIFORM = 120
N_SHORT = 60
SHORT_CHARS = 300
TUNE_SHARE = 0.3
#: Generic words that refusals tend to contain; deliberately not the pattern library.
CUES = (
    "sorry",
    "cannot",
    "can't",
    "can not",
    "unable",
    "as an ai",
    "not able",
    "apolog",
    "unfortunately",
    "i don't have",
    "i do not have",
    "not familiar",
    "not aware",
    "don't know",
)
#: The second list (see the module docstring): asking back and "cannot be done" words.
CUES2 = (
    "not sure",
    "more context",
    "more information",
    "clarify",
    "provide more",
    "no information",
    "not possible",
    "difficult to",
    "impossible",
    "do not know",
    "i'm not",
    "i am not",
    "beyond my",
    "not clear",
    "unclear",
)
SEED_SECOND = 1504
N_SECOND_UNIFORM = 40
N_SECOND_CUE = 260
N_SECOND_MORE = 80
SECOND_LABELS = ROOT / "tests/data/refusal_labels_sharegpt_v3_second.jsonl"
SEED_THIRD = 1505
N_THIRD_UNIFORM = 40
N_THIRD_SHORT = 60
N_THIRD_CUE = 300
N_THIRD_MORE = 100
THIRD_LABELS = ROOT / "tests/data/refusal_labels_sharegpt_v3_third.jsonl"
SEED_FOURTH = 1506
N_FOURTH_UNIFORM = 40
N_FOURTH_SHORT = 60
N_FOURTH_CUE = 400
FOURTH_LABELS = ROOT / "tests/data/refusal_labels_sharegpt_v3_fourth.jsonl"
SEED_FIFTH = 1507
N_FIFTH_UNIFORM = 40
N_FIFTH_SHORT = 60
N_FIFTH_CUE = 400
FIFTH_LABELS = ROOT / "tests/data/refusal_labels_sharegpt_v3_fifth.jsonl"
#: Exchange number -> (seed, split, pools in draw order with their sizes).
LATER: dict[int, tuple[int, str, tuple[tuple[str, int], ...]]] = {
    2: (
        SEED_SECOND,
        "report3",
        (("uniform", N_SECOND_UNIFORM), ("cue", N_SECOND_CUE), ("cue_more", N_SECOND_MORE)),
    ),
    3: (
        SEED_THIRD,
        "report4",
        (
            ("uniform", N_THIRD_UNIFORM),
            ("short", N_THIRD_SHORT),
            ("cue", N_THIRD_CUE),
            ("cue_more", N_THIRD_MORE),
        ),
    ),
    4: (
        SEED_FOURTH,
        "report5",
        (("uniform", N_FOURTH_UNIFORM), ("short", N_FOURTH_SHORT), ("cue", N_FOURTH_CUE)),
    ),
    5: (
        SEED_FIFTH,
        "report6",
        (("uniform", N_FIFTH_UNIFORM), ("short", N_FIFTH_SHORT), ("cue", N_FIFTH_CUE)),
    ),
}
USED = [ROOT / "tests/data/refusal_labels_sharegpt_v3.jsonl"]


def first_exchange(conv: dict) -> tuple[int, str, str] | None:
    """(assistant turn index, user text, response) of the first user turn answered directly."""
    turns = conv.get("conversations") or []
    for i in range(len(turns) - 1):
        user, reply = turns[i], turns[i + 1]
        if user.get("from") in ("human", "user") and reply.get("from") in ASSISTANT:
            if (user.get("value") or "").strip() and (reply.get("value") or "").strip():
                return i + 1, user["value"], reply["value"]
            return None
    return None


def nth_exchange(conv: dict, n: int) -> tuple[int, str, str] | None:
    """(assistant turn index, user text, response) of the ``n``-th exchange (1 = :func:`first_exchange`).

    Each exchange after the first is the user turn right after the previous reply and
    the reply to it; None when the conversation ends first or breaks that alternation.
    """
    ex = first_exchange(conv)
    turns = conv.get("conversations") or []
    for _ in range(n - 1):
        if ex is None or ex[0] + 2 >= len(turns):
            return None
        user, reply = turns[ex[0] + 1], turns[ex[0] + 2]
        if user.get("from") not in ("human", "user") or reply.get("from") not in ASSISTANT:
            return None
        if not (user.get("value") or "").strip() or not (reply.get("value") or "").strip():
            return None
        ex = ex[0] + 2, user["value"], reply["value"]
    return ex


def labelled_turns(
    exclude: tuple[Path, ...] = (SECOND_LABELS, THIRD_LABELS, FOURTH_LABELS, FIFTH_LABELS),
) -> set[tuple[int, int]]:
    """(conversation, turn) of every row of the label files, but for the ones ``exclude`` names.

    The default leaves out the files the ``--second`` to ``--fifth`` draws wrote, so
    that no draw changes once its own labels (or a later set's) exist.
    """
    out = set()
    for f in sorted((ROOT / "tests/data").glob("refusal_labels_sharegpt_v3*.jsonl")):
        if f in exclude:
            continue
        for line in f.read_text().splitlines():
            r = json.loads(line)
            out.add((r["idx"], r["turn"]))
    return out


def draw_later(dump: Path, n: int) -> list[dict]:
    """The ``--second`` to ``--fifth`` set (``n`` = 2 to 5; see the module docstring).

    Pools are drawn in the order :data:`LATER` lists them, each from what the earlier
    ones left, so a pool appended later (``cue_more``) never shifts the earlier ones.
    A pool larger than what is left takes all of it (said on stderr).
    """
    seed, split, sizes = LATER[n]
    seen = labelled_turns()
    pool = []
    for idx, conv in enumerate(conversations(dump)):
        if idx < 3000:
            continue
        ex = nth_exchange(conv, n)
        if ex is None or (idx, ex[0]) in seen:
            continue
        head = ex[2][:300].lower().replace("\u2019", "'")
        cue = any(c in head for c in CUES + CUES2)
        pool.append(
            {
                "idx": idx,
                "id": conv.get("id"),
                "turn": ex[0],
                "cue": cue,
                "short": len(ex[2].strip()) < SHORT_CHARS and not cue,
            }
        )
    rng = random.Random(seed)
    taken: set[int] = set()
    out = []
    for name, size in sizes:
        eligible = [p for p in pool if p["idx"] not in taken]
        if name == "short":
            eligible = [p for p in eligible if p["short"]]
        elif name != "uniform":
            eligible = [p for p in eligible if p["cue"]]
        if len(eligible) < size:
            print(f"# pool {name}: only {len(eligible)} of {size} left, all taken", file=sys.stderr)
        part = rng.sample(eligible, min(size, len(eligible)))
        taken |= {p["idx"] for p in part}
        out += [
            {"idx": p["idx"], "id": p["id"], "turn": p["turn"], "pool": name, "split": split}
            for p in part
        ]
    print(
        f"# pool: {len(pool)} exchanges no. {n}, {sum(p['cue'] for p in pool)} with a cue word, "
        f"{sum(p['short'] for p in pool)} short without one",
        file=sys.stderr,
    )
    return sorted(out, key=lambda r: r["idx"])


def draw(dump: Path) -> list[dict]:
    used = {json.loads(line)["idx"] for f in USED for line in f.read_text().splitlines()}
    pool = []
    for idx, conv in enumerate(conversations(dump)):
        if idx < 3000 or idx in used:
            continue
        ex = first_exchange(conv)
        if ex is None:
            continue
        turn, _, reply = ex
        head = reply[:300].lower().replace("\u2019", "'")
        pool.append(
            {
                "idx": idx,
                "id": conv.get("id"),
                "turn": turn,
                "cue": any(c in head for c in CUES),
                "cue2": any(c in head for c in CUES2),
                "short": len(reply.strip()) < SHORT_CHARS,
            }
        )
    rng = random.Random(SEED)
    uniform = rng.sample(pool, N_UNIFORM)
    taken = {p["idx"] for p in uniform}
    cued = [p for p in pool if p["cue"] and p["idx"] not in taken]
    short = rng.sample(
        [p for p in pool if p["short"] and not p["cue"] and p["idx"] not in taken], N_SHORT
    )
    taken |= {p["idx"] for p in cued + short}
    cued2 = [p for p in pool if p["cue2"] and p["idx"] not in taken]
    out = []
    for name, part in (("uniform", uniform), ("cue", cued), ("short", short), ("cue2", cued2)):
        for p in part:
            split = "tune" if rng.random() < TUNE_SHARE else "report"
            out.append(
                {"idx": p["idx"], "id": p["id"], "turn": p["turn"], "pool": name, "split": split}
            )
    print(
        f"# pool: {len(pool)} first exchanges, {sum(p['cue'] for p in pool)} with a cue word",
        file=sys.stderr,
    )
    return sorted(out, key=lambda r: r["idx"])


def draw_early(dump: Path) -> list[dict]:
    """The ``--early`` set (see the module docstring), in conversation order."""
    lines = {json.loads(line)["line"] for line in (ROOT / "tests/data/refusal_labels.jsonl").open()}
    out = []
    for idx, conv in enumerate(conversations(dump)):
        if idx >= 3000:
            break
        ex = first_exchange(conv) if idx not in lines and idx + 1 not in lines else None
        if ex is None:
            continue
        head = ex[2][:300].lower().replace("\u2019", "'")
        if any(c in head for c in CUES + CUES2):
            pool = "cue" if any(c in head for c in CUES) else "cue2"
            out.append(
                {"idx": idx, "id": conv.get("id"), "turn": ex[0], "pool": pool, "split": "report2"}
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show", help="print the exchanges of items N-M (0-based, in idx order)")
    ap.add_argument("--early", action="store_true", help="the second held-out set (report2)")
    ap.add_argument("--second", action="store_true", help="second exchanges (report3)")
    ap.add_argument("--third", action="store_true", help="third exchanges (report4)")
    ap.add_argument("--fourth", action="store_true", help="fourth exchanges (report5)")
    ap.add_argument("--fifth", action="store_true", help="fifth exchanges (report6)")
    args = ap.parse_args()
    dump = find_dump()
    if dump is None:
        sys.exit("error: the ShareGPT V3 dump is absent (see benchmarks/_sharegpt_v3.py)")
    which = 5 if args.fifth else 4 if args.fourth else 3 if args.third else 2 if args.second else 1
    if which > 1:
        items = draw_later(dump, which)
    else:
        items = draw_early(dump) if args.early else draw(dump)
    if not args.show:
        for r in items:
            print(json.dumps(r))
        return
    lo, hi = (int(x) for x in args.show.split("-"))
    want = {r["idx"]: (n, r) for n, r in enumerate(items) if lo <= n <= hi}
    for idx, conv in enumerate(conversations(dump)):
        if idx in want:
            n, r = want[idx]
            turn, user, reply = nth_exchange(conv, which)  # type: ignore[misc]
            if which > 2:
                before = conv["conversations"][turn - 2].get("value") or ""
                tail = f" …[{len(reply)}c]… {reply[-200:]!r}" if len(reply) > 600 else ""
                print(
                    f"=== {n} #{idx} {r['pool']}\nB: …{before[-200:]!r}\nU: {user[:400]!r}\n"
                    f"A: {reply[:600]!r}{tail}\n"
                )
                continue
            tail = f" …[{len(reply)}c]… {reply[-120:]!r}" if len(reply) > 520 else ""
            print(f"=== {n} #{idx} {r['pool']}\nU: {user[:220]!r}\nA: {reply[:520]!r}{tail}\n")


if __name__ == "__main__":
    main()
