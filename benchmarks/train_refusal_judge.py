"""Fit the refusal judge (clean/refusal_judge.py) on the tuning labels and score it leave-one-set-out; never on report6.

    .venv/bin/python benchmarks/train_refusal_judge.py [--before] [--threshold 0.5] [--generic-threshold 0.7] [--write]

Training rows: every labelled ShareGPT V3 response where a refusal pattern fires
and the judge does not pass it by rule (a code block or a list around the
opening sentence, or lines of answer before it), label 1 for ``refusal`` and 0
for answers, partial answers and answers that talk about being an AI, with the
user turn it answers, from every label set that has been read (the seven splits
of benchmarks/eval_refusals.py TUNING_SPLITS, report4 included since session 5
round 2).  The held-out set is tests/data/refusal_labels_sharegpt_v3_fourth.jsonl
(``report5``), never read here (benchmarks/eval_refusals.py --report scores it, once).

Two models, both logistic regressions with balanced class weights:

- the counts model over :data:`FEATURES`, fitted on the rows where a *specific*
  opener fires (C=3, as since session 4);
- the n-gram model over the same features, whether a specific opener fired, and
  the character n-grams (3-5, within words, in at least 3 training rows, scaled
  by 0.3) of the first 300 characters, fitted on every row a pattern fires on,
  the generic cue family (rule ``generic_cue``) included (C=1).

After a specific English opener ``clean`` averages the two probabilities
(threshold ``--threshold``); after only the generic cue the n-gram model decides
alone (``--generic-threshold``); after an opener in another language the counts
model alone, at 0.425 as before (the n-grams are English).

Scoring, response level (a response no pattern fires on counts as "not refusal"):
**leave-one-set-out** (fit on six label sets, score the seventh; the openers were
written by reading all of them except report4, so only report4 left out tests
the library too), and stratified 5-fold cross-validation over 5 seeds, which
flatters (a set's neighbours in the same position are in the training folds).
``--before`` scores the detector as it was before session 5 round 2 in the same
way: no generic cue family, counts model alone at threshold 0.425.
With ``--write`` it fits on all rows and stores the weights in
src/instructkit/clean/patterns/refusal_judge.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sharegpt_v3 import ROOT, find_dump  # noqa: E402
from eval_refusals import TUNING, TUNING_SPLITS, labelled_exchanges  # noqa: E402

from instructkit.clean.refusal_judge import (  # noqa: E402
    FEATURES,
    GENERIC_RULE,
    NGRAM_HEAD,
    char_ngrams,
    delivered_structure,
    features,
    first_refusal,
)
from instructkit.clean.refusals import PatternLibrary  # noqa: E402

OUT = ROOT / "src/instructkit/clean/patterns/refusal_judge.json"
SETS = TUNING_SPLITS
FOLDS = 5
SEEDS = 5
C_COUNTS = 3.0
C_NGRAM = 1.0
NGRAM_SCALE = 0.3
MIN_DF = 3
BEFORE_THRESHOLD = 0.425


class Design:
    """The rows a pattern fires on (and the judge does not pass by rule), with what both models read."""

    def __init__(self, rows: list[tuple[dict, str, str]], generic: bool) -> None:
        lib = PatternLibrary.load()
        idx, feats, spec, heads, english = [], [], [], [], []
        for i, (_, user, text) in enumerate(rows):
            hits = lib.find(text)
            if not generic:
                hits = [h for h in hits if h.rule != GENERIC_RULE]
            hit = first_refusal(hits)
            if hit is None or delivered_structure(text, hit.end):
                continue
            idx.append(i)
            feats.append(features(text, hit.end, user)[0])
            spec.append(hit.rule != GENERIC_RULE)
            english.append(lib.rule_of(hit).lang == "en")
            heads.append(text[:NGRAM_HEAD].lower())
        self.idx = np.array(idx)
        self.counts = np.array(feats)
        self.specific = np.array(spec)
        self.english = np.array(english)
        self.heads = heads


def vectorizer(heads: list[str]) -> CountVectorizer:
    cv = CountVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=MIN_DF, binary=True)
    cv.fit(heads)
    return cv


def fit(
    d: Design, y: np.ndarray, tr: np.ndarray
) -> tuple[LogisticRegression, LogisticRegression | None, CountVectorizer | None]:
    """The counts model (on specific-opener rows) and, unless ``before``-style, the n-gram model."""
    sp = tr & d.specific
    counts = LogisticRegression(C=C_COUNTS, class_weight="balanced", max_iter=5000)
    counts.fit(d.counts[sp], y[sp])
    cv = vectorizer([h for h, t in zip(d.heads, tr) if t])
    x = ngram_matrix(d, cv)
    ngram = LogisticRegression(C=C_NGRAM, class_weight="balanced", max_iter=5000).fit(x[tr], y[tr])
    return counts, ngram, cv


def ngram_matrix(d: Design, cv: CountVectorizer) -> sparse.csr_matrix:
    dense = np.hstack([d.counts, d.specific[:, None].astype(float)])
    return sparse.hstack([sparse.csr_matrix(dense), cv.transform(d.heads) * NGRAM_SCALE]).tocsr()


def predict(
    d: Design, models: tuple, te: np.ndarray, t: float, tg: float, before: bool
) -> np.ndarray:
    counts, ngram, cv = models
    p_counts = counts.predict_proba(d.counts[te])[:, 1]
    if before:
        return p_counts >= t
    p_words = ngram.predict_proba(ngram_matrix(d, cv)[te])[:, 1]
    spec = d.specific[te]
    decided = np.where(spec, (p_counts + p_words) / 2 >= t, p_words >= tg)
    # other languages than English: the counts model alone, as before (the n-grams are English)
    return np.where(d.english[te], decided, p_counts >= BEFORE_THRESHOLD)


def score(pred: np.ndarray, gold: np.ndarray, m: np.ndarray) -> tuple[float, float, int, int]:
    tp = int((pred & gold & m).sum())
    n = int((pred & m).sum())
    return tp / max(1, n), tp / max(1, int((gold & m).sum())), tp, n - tp


def leave_one_set_out(rows, d: Design, grid: list[tuple[float, float]], before: bool) -> None:
    gold = np.array([r["label"] == "refusal" for r, _, _ in rows])
    split = np.array([r["split"] for r, _, _ in rows])
    y = gold[d.idx].astype(int)
    preds = {g: np.zeros(len(rows), dtype=bool) for g in grid}
    for left in SETS:
        tr = split[d.idx] != left
        models = fit(d, y, tr)
        for t, tg in grid:
            preds[(t, tg)][d.idx[~tr]] = predict(d, models, ~tr, t, tg, before)
    print("\n#### leave one set out (fit on the other six, score the one left out)\n")
    print("| threshold | generic | " + " | ".join(f"{s} P / R" for s in SETS) + " | pooled P / R |")
    print("| ---: | ---: |" + " ---: |" * (len(SETS) + 1))
    for (t, tg), pred in preds.items():
        cells = [score(pred, gold, split == s) for s in SETS]
        tp, fp = sum(c[2] for c in cells), sum(c[3] for c in cells)
        row = " | ".join(f"{p:.3f} / {r:.3f}" for p, r, _, _ in cells)
        print(
            f"| {t} | {'-' if before else tg} | {row} | {tp / max(1, tp + fp):.3f} / {tp / gold.sum():.3f} |"
        )


def cross_validate(rows, d: Design, grid: list[tuple[float, float]], before: bool) -> None:
    gold = np.array([r["label"] == "refusal" for r, _, _ in rows])
    y = gold[d.idx].astype(int)
    res: dict[tuple[float, float], list[tuple[float, float]]] = {g: [] for g in grid}
    for seed in range(SEEDS):
        fold = np.zeros(len(rows), dtype=int)
        for k, (_, te) in enumerate(
            StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(gold, gold)
        ):
            fold[te] = k
        preds = {g: np.zeros(len(rows), dtype=bool) for g in grid}
        for k in range(FOLDS):
            tr = fold[d.idx] != k
            models = fit(d, y, tr)
            for t, tg in grid:
                preds[(t, tg)][d.idx[~tr]] = predict(d, models, ~tr, t, tg, before)
        for g, pred in preds.items():
            p, r, _, _ = score(pred, gold, np.ones(len(rows), dtype=bool))
            res[g].append((p, r))
    print(
        f"\n#### stratified {FOLDS}-fold cross-validation, {SEEDS} seeds, all {len(rows)} responses\n"
    )
    print("| threshold | generic | P / R |\n| ---: | ---: | ---: |")
    for (t, tg), v in res.items():
        print(
            f"| {t} | {'-' if before else tg} | {np.mean([p for p, _ in v]):.3f} / {np.mean([r for _, r in v]):.3f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", action="store_true", help="score the detector before round 2")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--generic-threshold", type=float, default=0.7)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    dump = find_dump()
    if dump is None:
        sys.exit("error: the ShareGPT V3 dump is absent (see benchmarks/_sharegpt_v3.py)")
    rows = labelled_exchanges(dump, TUNING)
    d = Design(rows, generic=not args.before)
    gold = np.array([r["label"] == "refusal" for r, _, _ in rows])
    y = gold[d.idx].astype(int)
    print(
        f"{'before round 2' if args.before else 'round 2'}: {len(rows)} tuning responses "
        f"({gold.sum()} refusals); a pattern fires on {len(y)} ({y.sum()} refusals), "
        f"{int(d.specific.sum())} of them a specific opener"
    )
    if args.before:
        grid = [(t, 0.0) for t in (0.35, 0.375, 0.4, 0.425, 0.45, 0.5)]
    else:
        grid = [(t, tg) for t in (0.45, 0.5, 0.55) for tg in (0.6, 0.7, 0.8)]
    leave_one_set_out(rows, d, grid, args.before)
    cross_validate(rows, d, grid, args.before)
    if args.before or not args.write:
        return
    everything = np.ones(len(y), dtype=bool)
    counts, ngram, cv = fit(d, y, everything)
    for head in d.heads[:50]:  # the judge's own n-grams must be scikit-learn's
        assert char_ngrams(head) == set(cv.build_analyzer()(head)), head
    names = [*FEATURES, "specific"]
    coef = ngram.coef_[0]
    grams = {
        g: round(float(coef[len(names) + j] * NGRAM_SCALE), 4) for g, j in cv.vocabulary_.items()
    }
    doc = {
        "about": "Logistic regressions of clean/refusal_judge.py, fitted by benchmarks/train_refusal_judge.py "
        "--write on every label set but report6 (tests/data/refusal_labels_sharegpt_v3*.jsonl, never _fifth.jsonl)",
        "weights": {f: round(float(w), 4) for f, w in zip(FEATURES, counts.coef_[0])},
        "bias": round(float(counts.intercept_[0]), 4),
        "threshold": args.threshold,
        "generic_threshold": args.generic_threshold,
        "counts_threshold": BEFORE_THRESHOLD,
        "ngram": {
            "weights": {f: round(float(w), 4) for f, w in zip(names, coef[: len(names)])},
            "bias": round(float(ngram.intercept_[0]), 4),
            "grams": {g: w for g, w in sorted(grams.items()) if w},
        },
        "trained_on": {
            "rows": int(len(y)),
            "refusals": int(y.sum()),
            "specific_rows": int(d.specific.sum()),
            "C": {"counts": C_COUNTS, "ngram": C_NGRAM},
            "ngram_scale": NGRAM_SCALE,
            "min_df": MIN_DF,
            "class_weight": "balanced",
        },
    }
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(
        f"\nfitted on all {len(y)} rows, {len(doc['ngram']['grams'])} n-grams; wrote {OUT.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
