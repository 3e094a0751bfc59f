"""The Self-Instruct novelty filter: speed against growing pools, and agreement with ``rouge-score``.

    PYTHONPATH=src python benchmarks/bench_generate_filter.py [--candidates 400]

Pool and candidates are real text: every distinct first user turn of
../shared/data/instructions plus the benchmark questions of
../shared/data/benchmarks (MMLU, MATH, ARC, BBH, ...), within the filter's
length bounds (3 < words <= 150), shuffled with a fixed seed.  Half the
candidates are held-out texts, half are copies of pool texts with 1-3 words
dropped or replaced (near the 0.7 threshold, the costly case: they survive
the unigram bound and need an exact LCS).

Measured: candidates filtered per second by :class:`RougeIndex` for pools of
1k, 10k and 50k (and the ``rouge-score`` package scoring the same candidate
against every pool text, as the original code does, on fewer candidates);
exact equality of the scores with ``rouge-score`` on sampled pairs; and the
same keep/reject decisions (ROUGE-L >= 0.7 to any pool text), against
``rouge-score`` on the 1k pool and against our own exhaustive scores (no
bound) on the 50k pool.

Agreement on real pairs, the filter's actual use: the instructions of
Alpaca (made by Self-Instruct from these very seeds, so some are close to
them), LIMA, WizardLM's test set and Self-Instruct's user-oriented set,
without their inputs, each scored against the 175 seed tasks: the exact
score with every seed (identical to ``rouge-score``'s), and the decision at
0.7 through the index, bound and all (the same as ``rouge-score``'s maximum
over the 175).  Few real instructions come near a seed, so the pairs near the
threshold are taken among the instructions themselves: every pair whose
unigram bound reaches 0.5, its exact score against ``rouge-score``'s.
Results: benchmarks/results/bench_generate_filter.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import numpy as np
import orjson
from rouge_score import rouge_scorer

from benchmarks._data import read, shared_data
from instructkit.generate.engine import seed_tasks
from instructkit.generate.rouge import RougeIndex
from instructkit.schema import instructions, to_records

THRESHOLD = 0.7
SIZES = (1_000, 10_000, 50_000)
FIELDS = ("instruction", "question", "problem", "input", "text", "prompt", "Question")
SEEDS = "self_instruct_seed_tasks"
REAL = (
    "alpaca_sample_2k",
    "lima_alpaca_format",
    "wizardlm_evol_testset",
    "self_instruct_user_oriented_eval",
)


def texts() -> list[str]:
    seen: dict[str, None] = {}
    for name in sorted(os.listdir(shared_data() / "instructions")):
        for s in instructions(read(name)):
            seen[s.strip()] = None
    for path in sorted((shared_data() / "benchmarks").glob("*/*.jsonl")):
        for line in path.read_bytes().splitlines():
            row = orjson.loads(line)
            q = row.get("question")
            if isinstance(q, dict):  # ARC: {"stem": ...}
                q = q.get("stem")
                row = {"question": q}
            text = next((row[f] for f in FIELDS if isinstance(row.get(f), str)), None)
            if text:
                seen[text.strip()] = None
    out = [t for t in seen if 3 < len(t.split()) <= 150]
    random.Random(0).shuffle(out)
    return out


def perturb(text: str, rng: random.Random, vocab: list[str]) -> str:
    words = text.split()
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(words))
        if rng.random() < 0.5 and len(words) > 4:
            del words[i]
        else:
            words[i] = rng.choice(vocab)
    return " ".join(words)


def real_pairs(scorer: rouge_scorer.RougeScorer, limit: int) -> dict:
    """Real instructions against the seed tasks: identical scores and decisions as rouge-score."""
    seeds = [t.instruction for t in seed_tasks(to_records(read(SEEDS)))]
    seen = set(seeds)
    real: list[str] = []
    for name in REAL:
        for t in seed_tasks(to_records(read(name))):
            if t.instruction not in seen and 3 < len(t.instruction.split()) <= 150:
                seen.add(t.instruction)
                real.append(t.instruction)
    random.Random(2).shuffle(real)
    real = real[:limit]
    index = RougeIndex(THRESHOLD)
    for t in seeds:
        index.add(t)
    pairs = equal = near = same = rejected = 0
    everything = np.arange(len(seeds))
    for c in real:
        theirs = np.array([scorer.score(p, c)["rougeL"].fmeasure for p in seeds])
        verdict = index.nearest(c)
        rejected += verdict is not None
        same += int(
            (verdict is not None) == (theirs.max() >= THRESHOLD)
            and (verdict is None or verdict.score == theirs.max())
        )
        pairs += len(seeds)
        equal += int((index.scores(c, everything) == theirs).sum())
        near += int((theirs >= 0.5).sum())
    # Few real instructions come near a seed; the near pairs are among the instructions
    # themselves: every pair whose unigram bound reaches 0.5, scored both ways.
    close = RougeIndex(0.5)
    for t in real:
        close.add(t)
    near_pairs = near_equal = above = 0
    for row, c in enumerate(real):
        rows = close.candidates(close.encode(c))
        rows = rows[rows != row]
        mine = close.scores(c, rows)
        theirs = np.array([scorer.score(real[r], c)["rougeL"].fmeasure for r in rows.tolist()])
        near_pairs += len(rows)
        near_equal += int((mine == theirs).sum())
        above += int((theirs >= THRESHOLD).sum())
    return {
        "instructions": len(real),
        "seeds": len(seeds),
        "sources": list(REAL),
        "pairs": pairs,
        "pairs_identical": equal,
        "pairs_rouge_l_at_least_0.5": near,
        "decisions_same": same,
        "too_similar_to_a_seed": rejected,
        "instruction_pairs_bound_at_least_0.5": near_pairs,
        "instruction_pairs_identical": near_equal,
        "instruction_pairs_rouge_l_at_least_0.7": above,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=400)
    ap.add_argument("--real", type=int, default=1_500, help="real instructions vs the seeds")
    ap.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "bench_generate_filter.json")
    )
    args = ap.parse_args()
    corpus = texts()
    need = max(SIZES) + args.candidates
    assert len(corpus) >= need, f"only {len(corpus)} distinct texts"
    pool_all, held = corpus[: max(SIZES)], corpus[max(SIZES) : need]
    rng = random.Random(1)
    vocab = [w for t in held for w in t.split()]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    results: dict = {"threshold": THRESHOLD, "load": os.getloadavg()[0], "sizes": []}
    agreement: dict = {}
    for size in SIZES:
        pool = pool_all[:size]
        half = args.candidates // 2
        cands = held[:half] + [
            perturb(rng.choice(pool), rng, vocab) for _ in range(args.candidates - half)
        ]
        t0 = time.perf_counter()
        index = RougeIndex(THRESHOLD)
        for t in pool:
            index.add(t)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        verdicts = [index.nearest(c) for c in cands]
        ours = time.perf_counter() - t0
        exact_pairs = sum(len(index.candidates(index.encode(c))) for c in cands)
        # rouge-score, as the original code uses it: every pool text for each candidate
        k = max(1, 20_000 // size)
        t0 = time.perf_counter()
        for c in cands[-k:]:
            max(scorer.score(p, c)["rougeL"].fmeasure for p in pool)
        theirs = (time.perf_counter() - t0) / k
        row = {
            "pool": size,
            "candidates": len(cands),
            "rejected_too_similar": sum(v is not None for v in verdicts),
            "index_build_s": round(build, 3),
            "candidates_per_s": round(len(cands) / ours, 1),
            "exact_lcs_pairs_per_candidate": round(exact_pairs / len(cands), 1),
            "rouge_score_candidates_per_s": round(1 / theirs, 2),
            "rouge_score_candidates_timed": k,
            "speedup": round(theirs / (ours / len(cands)), 1),
        }
        results["sizes"].append(row)
        print(json.dumps(row))
        if size == SIZES[0]:  # decisions against rouge-score over the whole 1k pool
            same = 0
            for c, v in zip(cands, verdicts):
                best = max(scorer.score(p, c)["rougeL"].fmeasure for p in pool)
                same += (v is not None) == (best >= THRESHOLD) and (v is None or v.score == best)
            agreement["decisions_vs_rouge_score_1k_pool"] = {
                "candidates": len(cands),
                "same": int(same),
            }
            # exact scores on pairs: each candidate with its 5 nearest by the bound and 5 random texts
            pairs = equal = 0
            for c in cands:
                rows = index.candidates(index.encode(c))[:5]
                rows = np.concatenate([rows, np.array(rng.sample(range(size), 5))])
                mine = index.scores(c, rows)
                for r, s in zip(rows.tolist(), mine.tolist()):
                    pairs += 1
                    equal += s == scorer.score(pool[r], c)["rougeL"].fmeasure
            agreement["scores_vs_rouge_score"] = {"pairs": pairs, "identical": int(equal)}
        if size == SIZES[-1]:  # the bound loses nothing: exhaustive exact scores on the 50k pool
            everything = np.arange(size)
            same = sum(
                (v is not None) == (index.scores(c, everything).max() >= THRESHOLD)
                for c, v in zip(cands, verdicts)
            )
            agreement["decisions_vs_exhaustive_50k_pool"] = {
                "candidates": len(cands),
                "same": int(same),
            }
    t0 = time.perf_counter()
    agreement["real_instructions_vs_seed_tasks"] = real_pairs(scorer, args.real)
    agreement["real_instructions_vs_seed_tasks"]["seconds"] = round(time.perf_counter() - t0, 1)
    results["agreement"] = agreement
    print(json.dumps(agreement))
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
