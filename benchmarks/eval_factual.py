"""Factual consistency end to end, offline: planted true/false statements against a small reference corpus.

Usage: .venv/bin/python benchmarks/eval_factual.py [--k 1] [--json benchmarks/results/eval_factual.json]

Corpus and statements: tests/data/factual_reference.jsonl (30 passages written
for this project) and tests/data/factual_claims.jsonl (20 true statements and
20 false twins that change one fact).  The judge is SmolLM2-135M-Instruct
behind a real llama.cpp OpenAI-compatible server, through the project's LLM
client.  Baseline in the same run: a lexical check that flags a claim when one
of its content words is missing from the retrieved passage.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np

from instructkit.llm.server import LocalServer
from instructkit.score.factual import FactualScorer, ReferenceIndex, llm_judge

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
STOP = {
    "a",
    "an",
    "the",
    "is",
    "are",
    "was",
    "were",
    "of",
    "in",
    "on",
    "at",
    "to",
    "by",
    "with",
    "and",
    "or",
    "for",
    "from",
    "its",
    "it",
    "as",
    "be",
    "has",
    "have",
    "had",
    "about",
}


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, default=1, help="passages per claim shown to the judge")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = [
        json.loads(line)
        for line in (DATA / "factual_claims.jsonl").read_text().splitlines()
        if line.strip()
    ]
    false = np.array([r["label"] == "false" for r in rows])
    index = ReferenceIndex(
        DATA / "factual_reference.jsonl", cache_dir=Path("/tmp/instructkit-eval-bm25")
    )
    with LocalServer() as srv:
        scorer = FactualScorer(index, llm_judge(srv.base_url, srv.model), k=args.k)
        scorer.setup()
        t0 = time.perf_counter()
        _, evidence = scorer.score([r["output"] for r in rows])
        secs = time.perf_counter() - t0
    verdicts = [e[0]["verdict"] for e in evidence]
    passages = dict(zip(index.ids, index.texts))
    lexical = np.array(
        [
            bool(content_words(r["output"]) - content_words(passages[e[0]["evidence"][0]]))
            for r, e in zip(rows, evidence)
        ]
    )

    def rate(mask: np.ndarray, verdict: str) -> float:
        return float(np.mean([v == verdict for v, m in zip(verdicts, mask) if m]))

    result = {
        "claims": len(rows),
        "seconds": secs,
        "k": args.k,
        "llm_judge": {
            "contradicted_rate_false": rate(false, "contradicted"),
            "contradicted_rate_true": rate(~false, "contradicted"),
            "supported_rate_false": rate(false, "supported"),
            "supported_rate_true": rate(~false, "supported"),
            "unparsed_rate": float(np.mean([v == "unparsed" for v in verdicts])),
        },
        "lexical_baseline": {
            "flag_rate_false": float(lexical[false].mean()),
            "flag_rate_true": float(lexical[~false].mean()),
        },
    }
    j, b = result["llm_judge"], result["lexical_baseline"]
    print(
        f"{len(rows)} planted statements (20 true, 20 false), judge SmolLM2-135M via llama.cpp server, k={args.k}, {secs:.0f} s\n"
    )
    print("| method | flags false statements | flags true statements | supported: false / true |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| LLM judge (contradicted) | {j['contradicted_rate_false']:.0%} | {j['contradicted_rate_true']:.0%} "
        f"| {j['supported_rate_false']:.0%} / {j['supported_rate_true']:.0%} |"
    )
    print(
        f"| baseline: content word missing from evidence | {b['flag_rate_false']:.0%} | {b['flag_rate_true']:.0%} | – |"
    )
    print(f"\nunparsed judge answers: {j['unparsed_rate']:.0%}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
