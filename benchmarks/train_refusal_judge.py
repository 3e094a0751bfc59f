"""Fit the refusal judge (clean/refusal_judge.py) on the tuning labels; never on the report4 set.

    .venv/bin/python benchmarks/train_refusal_judge.py [--c C] [--threshold T] [--grid-c C ...] [--ablation] [--write]

Training rows: every labelled ShareGPT V3 response where a refusal pattern fires
and the judge does not pass it by rule (a code block or a list around the
opening sentence, or lines of answer before it) (label 1 for ``refusal``, 0 for
answers, partial answers and answers that talk about being an AI), with the
user turn it answers, from every label set that has been read:
tests/data/refusal_labels_sharegpt_v3.jsonl (``tune``, ``heldout``),
refusal_labels_sharegpt_v3_fresh.jsonl (``fresh-tune``, ``fresh-report``),
refusal_labels_sharegpt_v3_early.jsonl (``report2``) and, since session 5 (it
was scored once, then its misses were read),
refusal_labels_sharegpt_v3_second.jsonl (``report3``).  The held-out set is
tests/data/refusal_labels_sharegpt_v3_third.jsonl (``report4``), never read
here (benchmarks/eval_refusals.py --report scores it, once).

Prints the response-level precision and recall of patterns + judge under
stratified 5-fold cross-validation over 5 seeds, overall and per label set,
for a grid of C and thresholds.  The folds split all tuning responses (a
response no pattern fires on, or passed by rule, counts as "not refusal"), so
two pattern libraries are compared on the same folds.  Only the judge is
cross-validated: the patterns were written by reading these same responses.
``--ablation`` also scores feature sets that were tried and dropped: without
the user-turn features, + the id of the rule that fired, + words and word
pairs of the first 300 characters (in at least 3 rows).  With ``--write`` it
fits on all rows and stores the weights in
src/instructkit/clean/patterns/refusal_judge.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sharegpt_v3 import ROOT, find_dump  # noqa: E402
from eval_refusals import TUNING, TUNING_SPLITS, labelled_exchanges  # noqa: E402

from instructkit.clean.refusal_judge import (  # noqa: E402
    FEATURES,
    delivered_structure,
    features,
    first_refusal,
)
from instructkit.clean.refusals import PatternLibrary  # noqa: E402

OUT = ROOT / "src/instructkit/clean/patterns/refusal_judge.json"
SETS = TUNING_SPLITS
FOLDS = 5
SEEDS = 5


def tuning_rows() -> list[tuple[dict, str, str]]:
    """(label row, user turn, response) of every tuning label; report3 is left out."""
    dump = find_dump()
    if dump is None:
        sys.exit("error: the ShareGPT V3 dump is absent (see benchmarks/_sharegpt_v3.py)")
    return labelled_exchanges(dump, TUNING)


def design(
    rows: list[tuple[dict, str, str]], extra: str
) -> tuple[list[int], list[dict[str, float]]]:
    """Indices of the rows a pattern fires on, and their features (``extra``: "", "rule", "rule+words", "no-user")."""
    lib = PatternLibrary.load()
    idx, feats = [], []
    for i, (_, user, text) in enumerate(rows):
        hit = first_refusal(lib.find(text))
        if hit is None or delivered_structure(text, hit.end):
            continue
        vec = dict(zip(FEATURES, features(text, hit.end, user)[0]))
        if extra == "no-user":
            vec = {k: v for k, v in vec.items() if not k.startswith("user_")}
        if extra.startswith("rule"):
            vec[f"rule={hit.rule}"] = 1.0
        if extra == "rule+words":
            toks = re.findall(r"[a-z]+(?:'[a-z]+)?", text[:300].lower())
            for w in set(toks + [f"{a} {b}" for a, b in zip(toks, toks[1:])]):
                vec[f"w={w}"] = 1.0
        idx.append(i)
        feats.append(vec)
    df = Counter(k for v in feats for k in v if k.startswith("w="))
    return idx, [
        {k: x for k, x in v.items() if not k.startswith("w=") or df[k] >= 3} for v in feats
    ]


def cross_validate(
    rows: list[tuple[dict, str, str]], idx: list[int], x, c: float, t: float
) -> dict[str, tuple[float, float]]:
    """Response-level (precision, recall) per label set and overall, mean over seeds.

    The folds split all tuning responses (stratified by label), not only those a
    pattern fires on, so a change of the pattern library is compared on the same
    folds; the judge is fitted on the candidates of the training folds.
    """
    gold = np.array([r["label"] == "refusal" for r, _, _ in rows])
    split = np.array([r["split"] for r, _, _ in rows])
    cand = np.array(idx)
    y = gold[cand].astype(int)
    out: dict[str, list[tuple[float, float]]] = {}
    for seed in range(SEEDS):
        pred = np.zeros(len(rows), dtype=bool)
        fold = np.zeros(len(rows), dtype=int)
        for k, (_, te) in enumerate(
            StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(gold, gold)
        ):
            fold[te] = k
        for k in range(FOLDS):
            tr, te = fold[cand] != k, fold[cand] == k
            model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
            pred[cand[te]] = model.fit(x[tr], y[tr]).predict_proba(x[te])[:, 1] >= t
        for name in ("all", *SETS):
            m = np.ones(len(rows), dtype=bool) if name == "all" else split == name
            tp = int((pred & gold & m).sum())
            out.setdefault(name, []).append(
                (tp / max(1, int((pred & m).sum())), tp / max(1, int((gold & m).sum())))
            )
    return {
        k: (float(np.mean([p for p, _ in v])), float(np.mean([r for _, r in v])))
        for k, v in out.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    ap.add_argument("--threshold", type=float, default=0.45)
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument(
        "--grid-c", type=float, nargs="+", default=[0.3, 1.0, 3.0], help="values of C to score"
    )
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    rows = tuning_rows()
    gold = [r["label"] == "refusal" for r, _, _ in rows]
    variants = ["", "no-user", "rule", "rule+words"] if args.ablation else [""]
    for extra in variants:
        idx, feats = design(rows, extra)
        vect = DictVectorizer(sort=False)
        x = vect.fit_transform(feats)
        y = [gold[i] for i in idx]
        print(
            f"\n### features: {', '.join(['judge features', *filter(None, extra.split('+'))])} ({x.shape[1]})\n"
            f"tuning responses {len(rows)} ({sum(gold)} refusals); a pattern fires on {len(y)} "
            f"({sum(y)} refusals, {len(y) - sum(y)} answers)\n"
        )
        print("| C | threshold | all P / R | " + " | ".join(f"{s} P / R" for s in SETS) + " |")
        print("| ---: | ---: |" + " ---: |" * (1 + len(SETS)))
        for c in args.grid_c:
            for t in (0.35, 0.375, 0.4, 0.425, 0.45, 0.5):
                res = cross_validate(rows, idx, x, c, t)
                cells = " | ".join(f"{res[k][0]:.3f} / {res[k][1]:.3f}" for k in ("all", *SETS))
                print(f"| {c} | {t} | {cells} |")
    idx, feats = design(rows, "")
    x = np.array([[v[f] for f in FEATURES] for v in feats])
    y = np.array([gold[i] for i in idx], dtype=int)
    model = LogisticRegression(C=args.c, class_weight="balanced", max_iter=5000).fit(x, y)
    doc = {
        "about": "Logistic regression of clean/refusal_judge.py; fitted by benchmarks/train_refusal_judge.py "
        "on tests/data/refusal_labels_sharegpt_v3.jsonl, _fresh.jsonl, _early.jsonl and _second.jsonl "
        "(never _third.jsonl)",
        "weights": {f: round(float(w), 4) for f, w in zip(FEATURES, model.coef_[0])},
        "bias": round(float(model.intercept_[0]), 4),
        "threshold": args.threshold,
        "trained_on": {
            "rows": int(len(y)),
            "refusals": int(y.sum()),
            "C": args.c,
            "class_weight": "balanced",
        },
    }
    print(f"\nfitted on all {len(y)} rows (C={args.c}, threshold {args.threshold}):")
    print(json.dumps(doc, indent=2))
    if args.write:
        OUT.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
