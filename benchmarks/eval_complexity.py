"""External validity of ``complexity``: Spearman against human Difficulty labels, and dataset ordering.

Usage: .venv/bin/python benchmarks/eval_complexity.py [--json benchmarks/results/eval_complexity.json]

1. WizardLM's Evol-Instruct test set (218 instructions, Difficulty 1-10 by its
   authors): Spearman rho of every sub-metric and of the combined score.
2. Mean ``complexity`` of Alpaca (self-instruct seeds, short), the WizardLM
   test set (evolved to be harder) and LIMA (long, curated community questions).
   Baseline in the same run: instruction length in whitespace words, the
   standard proxy every toolkit has.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import orjson
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import read

from instructkit.schema import instructions
from instructkit.score.complexity import ComplexityScorer

DATASETS = ("alpaca_sample_2k", "wizardlm_evol_testset", "lima_alpaca_format")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    scorer = ComplexityScorer()
    scorer.setup()
    result: dict = {}

    wiz = read("wizardlm_evol_testset")
    texts = instructions(wiz)
    difficulty = np.array(
        [orjson.loads(m)["Difficulty"] for m in wiz.column("meta").to_pylist()], dtype=float
    )
    feats = scorer.score(texts)
    feats["baseline: words"] = np.array([len(t.split()) for t in texts], dtype=float)
    print(f"## Spearman rho vs WizardLM Difficulty (n={len(texts)})\n")
    print("| metric | rho | p |\n| --- | ---: | ---: |")
    rhos = {}
    for name, values in feats.items():
        ok = ~np.isnan(values)
        rho, p = spearmanr(values[ok], difficulty[ok])
        rhos[name] = {"rho": round(float(rho), 4), "p": float(p), "n": int(ok.sum())}
        label = (
            "complexity"
            if name == "complexity"
            else (name if name.startswith("baseline") else f"complexity.{name}")
        )
        print(f"| {label} | {rho:.3f} | {p:.1e} |")
    result["spearman_vs_difficulty"] = rhos
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(2000):
        i = rng.integers(0, len(difficulty), len(difficulty))
        boot.append(spearmanr(feats["complexity"][i], difficulty[i])[0])
    lo, hi = np.percentile(boot, [2.5, 97.5])
    result["complexity_rho_bootstrap_95"] = [float(lo), float(hi)]
    print(f"\ncomplexity: 95% bootstrap interval of rho (2,000 resamples): [{lo:.3f}, {hi:.3f}]")

    print("\n## Mean complexity per dataset (instruction = first user turn, input appended)\n")
    print(
        "| dataset | n | complexity mean | complexity median | tokens mean | dep_depth_max mean | constraints mean | words (baseline) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    table = {}
    for name in DATASETS:
        texts = instructions(read(name))
        t0 = time.perf_counter()
        f = scorer.score(texts)
        secs = time.perf_counter() - t0
        words = np.array([len(t.split()) for t in texts], dtype=float)
        row = {
            "n": len(texts),
            "complexity_mean": float(np.nanmean(f["complexity"])),
            "complexity_median": float(np.nanmedian(f["complexity"])),
            "tokens_mean": float(np.nanmean(f["tokens"])),
            "dep_depth_max_mean": float(np.nanmean(f["dep_depth_max"])),
            "constraints_mean": float(np.nanmean(f["constraints"])),
            "words_mean": float(words.mean()),
            "records_per_s": len(texts) / secs,
        }
        table[name] = row
        print(
            f"| {name} | {row['n']} | {row['complexity_mean']:.3f} | {row['complexity_median']:.3f} | {row['tokens_mean']:.1f} "
            f"| {row['dep_depth_max_mean']:.2f} | {row['constraints_mean']:.2f} | {row['words_mean']:.1f} |"
        )
    result["datasets"] = table
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
