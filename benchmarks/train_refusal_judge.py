"""Fit the refusal judge (clean/refusal_judge.py) on the ``tune`` split of the ShareGPT V3 refusal labels.

    .venv/bin/python benchmarks/train_refusal_judge.py [--write]

Only responses where a refusal pattern fires are judged, so only they are
training rows: label 1 for ``refusal``, 0 for answers (partial answers and
answers that talk about being an AI).  Prints the weights, the leave-one-out
accuracy on the tuning rows, and with ``--write`` stores the weights in
src/instructkit/clean/patterns/refusal_judge.json.  The ``heldout`` split is
never read here (benchmarks/eval_refusals.py reports it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneOut, cross_val_predict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sharegpt_v3 import find_dump, labelled_responses  # noqa: E402

from instructkit.clean.refusal_judge import FEATURES, features  # noqa: E402
from instructkit.clean.refusals import PatternLibrary  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "src/instructkit/clean/patterns/refusal_judge.json"
#: Chosen with --c by leave-one-out on the tune rows (benchmarks/results/train_refusal_judge.txt).
THRESHOLD = 0.4


def rows(split: str) -> tuple[np.ndarray, np.ndarray]:
    dump = find_dump()
    if dump is None:
        sys.exit("error: the ShareGPT V3 dump is absent (see benchmarks/_sharegpt_v3.py)")
    lib = PatternLibrary.load()
    xs, ys = [], []
    for ref, text in labelled_responses(dump):
        if ref["split"] != split:
            continue
        hits = [h for h in lib.find(text) if h.category == "refusal"]
        if hits:
            xs.append(features(text, min(hits, key=lambda h: h.start).end)[0])
            ys.append(1 if ref["label"] == "refusal" else 0)
    return np.array(xs), np.array(ys)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--c", type=float, default=10.0, help="inverse regularisation strength")
    args = ap.parse_args()
    x, y = rows("tune")
    model = LogisticRegression(C=args.c, class_weight="balanced", max_iter=2000)
    loo = cross_val_predict(model, x, y, cv=LeaveOneOut(), method="predict_proba")[:, 1]
    pred = loo >= THRESHOLD
    print(f"tune rows where a refusal pattern fires: {len(y)} ({y.sum()} refusals)")
    print(
        f"leave-one-out: accuracy {np.mean(pred == y):.3f}; refusals kept {int((pred & (y == 1)).sum())}/{int(y.sum())}, answers dropped {int((pred & (y == 0)).sum())}/{int((y == 0).sum())}"
    )
    model.fit(x, y)
    weights = {f: round(float(w), 4) for f, w in zip(FEATURES, model.coef_[0])}
    doc = {
        "about": "Logistic regression of clean/refusal_judge.py; fitted by benchmarks/train_refusal_judge.py on the tune split of tests/data/refusal_labels_sharegpt_v3.jsonl",
        "weights": weights,
        "bias": round(float(model.intercept_[0]), 4),
        "threshold": THRESHOLD,
        "trained_on": {
            "rows": int(len(y)),
            "refusals": int(y.sum()),
            "C": args.c,
            "class_weight": "balanced",
        },
    }
    print(json.dumps(doc, indent=2))
    if args.write:
        OUT.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
