"""Precision and recall of the refusal / GPT-ism patterns on hand-labelled real responses.

    .venv/bin/python benchmarks/eval_refusals.py [--labels tests/data/refusal_labels.jsonl] [--show-errors]

The labels (tests/data/refusal_labels.jsonl; split ``dev``: 320 responses the
patterns were tuned on; ``heldout``: 140 more, labelled before the patterns were run
on them, then used for one round of tuning; ``heldout2``: 105 more, labelled last and
never tuned on) hold only references into
../shared/data (file, line, turn) and my label; the text is joined at run time.
Labels: ``refusal`` (the response declines, or opens by saying it cannot do what
was asked: inability, no access, missing input, policy, even when it then
offers an alternative), ``ai_reference`` (it talks about itself as an AI or
cites its knowledge cutoff but answers), ``none``.  Two tasks are scored:
refusal vs the rest, and "drop" (refusal or AI reference, what ``clean`` drops
by default) vs none.  The baseline is the common practice in open SFT data
cleaning: drop a response that contains any phrase of a fixed list (the style of
the ShareGPT "unfiltered" cleaning scripts).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from instructkit.clean.refusals import PatternLibrary

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
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
    "it is important to",
    "it's important to",
    "please note",
    "i am here to assist",
    "my purpose",
    "unfortunately, i cannot",
    "i'm afraid i cannot",
    "not within the scope",
]


def load(labels: Path, shared: Path) -> list[tuple[dict, str]]:
    cache: dict[str, list[str]] = {}
    out = []
    for line in labels.read_text().splitlines():
        ref = json.loads(line)
        if ref["file"] not in cache:
            cache[ref["file"]] = (shared / ref["file"]).read_text(encoding="utf-8").split("\n")
        row = json.loads(cache[ref["file"]][ref["line"] - 1])
        text = (
            row["conversations"][ref["turn"]]["value"]
            if ref["turn"] is not None
            else row.get("output", row.get("response"))
        )
        out.append((ref, text))
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=Path, default=ROOT / "tests/data/refusal_labels.jsonl")
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    everything = load(args.labels, args.shared)
    lib = PatternLibrary.load()
    for split in ("dev", "heldout", "heldout2", "all"):
        items = [(r, t) for r, t in everything if split in ("all", r.get("split", "dev"))]
        gold_ref = [r["label"] == "refusal" for r, _ in items]
        gold_drop = [r["label"] != "none" for r, _ in items]
        cats = [{h.category for h in lib.find(t)} for _, t in items]
        ours_ref = ["refusal" in c for c in cats]
        ours_drop = [bool(c & {"refusal", "ai_self_reference"}) for c in cats]
        base = [any(p in t.lower() for p in BASELINE_PHRASES) for _, t in items]
        n = {
            k: sum(1 for r, _ in items if r["label"] == k)
            for k in ("refusal", "ai_reference", "none")
        }
        print(f"\n### {split}: {len(items)} labelled responses {n}")
        print(
            "| task | method | precision | recall | tp | fp | fn |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |"
        )
        for task, gold, ours in (
            ("refusal", gold_ref, ours_ref),
            ("drop (refusal or AI reference)", gold_drop, ours_drop),
        ):
            for name, pred in (("instructkit patterns", ours), ("phrase-list baseline", base)):
                s = prf(pred, gold)
                print(
                    f"| {task} | {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['tp']} | {s['fp']} | {s['fn']} |"
                )
    if args.show_errors:
        for (ref, text), p, g in zip(items, ours_drop, gold_drop):
            if p != g:
                print(
                    f"\n{'FP' if p else 'FN'} {ref['file'].split('/')[1]}:{ref['line']}:{ref['turn']} {ref['label']}: {text[:240]!r}"
                )


if __name__ == "__main__":
    main()
