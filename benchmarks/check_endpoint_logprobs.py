"""Can an OpenAI-compatible endpoint's echoed log-probabilities be trusted for perplexity?

Usage: .venv/bin/python benchmarks/check_endpoint_logprobs.py [--n 10]

Scores the same Alpaca responses (plain "instruction\\n\\n" prefix, no chat
template, first 64 tokens) twice with the same GGUF: through
``llama_cpp.server``'s ``/v1/completions`` (echo + logprobs, the
``OpenAIBackend``) and in-process (``LlamaCppBackend``), and prints both
perplexities.  models.md reported implausible echo numbers; this measures it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import read

from instructkit.llm.server import LocalServer
from instructkit.models.logprobs import LlamaCppBackend, OpenAIBackend
from instructkit.schema import instructions, responses
from instructkit.score.perplexity import PerplexityScorer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    table = read("alpaca_sample_2k")
    pairs = [
        (i, " ".join(r.split()[:40]))
        for i, r in zip(instructions(table), responses(table))
        if len(r.split()) >= 8
    ][: args.n]
    instr, resp = [p[0] for p in pairs], [p[1] for p in pairs]
    local = LlamaCppBackend(max_response_tokens=64)
    local.setup()
    local._format = None  # the endpoint backend uses the plain prefix: compare like with like
    here = PerplexityScorer(local, ifd=False).score(instr, resp)["perplexity"]
    with LocalServer() as srv:
        there = PerplexityScorer(OpenAIBackend(srv.base_url, srv.model), ifd=False).score(
            instr, resp
        )["perplexity"]
    print(
        "| text | in-process perplexity | endpoint (echo logprobs) perplexity | ratio |\n| ---: | ---: | ---: | ---: |"
    )
    for k, (a, b) in enumerate(zip(here, there)):
        print(f"| {k} | {a:.2f} | {b:.2f} | {b / a:.2f} |")
    print(f"\nmedian ratio endpoint / in-process: {np.median(there / here):.2f}")


if __name__ == "__main__":
    main()
