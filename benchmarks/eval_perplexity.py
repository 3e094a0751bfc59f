"""Does perplexity separate real responses from the same responses with their words shuffled?

Usage: .venv/bin/python benchmarks/eval_perplexity.py [--pairs 500] [--max-tokens 64] [--model smollm2]
       [--json benchmarks/results/eval_perplexity.json]

Pairs come from Alpaca (``alpaca_sample_2k``, responses of at least 8 words),
the first N by file order; the shuffled twin keeps every word and the
instruction, so only word order (coherence) differs.  AUC = P(shuffled gets the
higher perplexity), computed by sklearn's roc_auc_score.  Responses are cut at
``--max-tokens`` model tokens for both twins to keep the run short on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import read

from instructkit.models.logprobs import make_backend
from instructkit.schema import instructions, responses
from instructkit.score.perplexity import PerplexityScorer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=500)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    table = read("alpaca_sample_2k")
    pairs = [(i, r) for i, r in zip(instructions(table), responses(table)) if len(r.split()) >= 8][
        : args.pairs
    ]
    rng = random.Random(0)
    shuffled = []
    for _, r in pairs:
        w = r.split()
        rng.shuffle(w)
        shuffled.append(" ".join(w))
    scorer = PerplexityScorer(
        make_backend(args.model, max_response_tokens=args.max_tokens), ifd=False
    )
    instr = [p[0] for p in pairs]
    t0 = time.perf_counter()
    real = scorer.score(instr, [p[1] for p in pairs])["perplexity"]
    fake = scorer.score(instr, shuffled)["perplexity"]
    secs = time.perf_counter() - t0
    y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    auc = roc_auc_score(y, np.r_[real, fake])
    paired = float(np.mean(fake > real))
    print(
        "| pairs | AUC | shuffled > real (paired) | median ppl real | median ppl shuffled | seconds |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {len(pairs)} | {auc:.4f} | {paired:.4f} | {np.median(real):.2f} | {np.median(fake):.2f} | {secs:.0f} |"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "pairs": len(pairs),
                    "auc": auc,
                    "paired_share": paired,
                    "max_tokens": args.max_tokens,
                    "model": args.model,
                    "median_real": float(np.median(real)),
                    "median_shuffled": float(np.median(fake)),
                    "seconds": secs,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
