"""Throughput of each metric on real instructions, with the model's own share of the time.

Usage: .venv/bin/python benchmarks/bench_score.py [--records 2000] [--lm-records 40]
       [--json benchmarks/results/bench_score.json]

Data: ``alpaca_sample_2k`` (instruction with input appended; response).
- complexity: our scorer (spaCy without NER, ``nlp.pipe`` batches, NumPy BLAS,
  vectorised features) on a first pass over texts it has not seen, against the
  standard way to use spaCy, ``nlp(text)`` per text with the stock pipeline
  (NER included), in the same run; plus stock ``nlp.pipe`` with the same
  components but thinc's default BLIS ops, to show what the BLAS swap buys.
- model share = time inside the model call (``nlp.pipe``, the toxicity
  classifier, llama.cpp ``eval``) over the metric's total time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import read

from instructkit.schema import instructions, responses
from instructkit.score.complexity import ComplexityScorer

CPU: dict[str, float] = {}


def timed(fn, *args, **kwargs):
    """Wall seconds; the process's CPU seconds of the same call go to CPU["last"] (children not counted)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    CPU["last"] = time.process_time() - c0
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--lm-records", type=int, default=40)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    table = read("alpaca_sample_2k").slice(0, args.records)
    instr, resp = instructions(table), responses(table)
    n = len(instr)
    rows: list[dict] = []

    scorer = ComplexityScorer()
    scorer.setup()
    scorer.score(["Warm up the parser with one sentence."])
    _, total = timed(scorer.score, instr)  # first pass: every text new to the vocabulary
    cpu = CPU["last"]
    with scorer._nlp.select_pipes(disable=scorer._skip):  # the same components the scorer runs
        _, parse = timed(lambda: list(scorer._nlp.pipe(instr, batch_size=scorer.batch_size)))
    rows.append(
        {
            "metric": "complexity (1 process)",
            "records": n,
            "per_s": n / total,
            "model_share": min(parse / total, 1.0),
            "per_cpu_s": n / cpu,
        }
    )
    import spacy

    stock = spacy.load(scorer.model, exclude=["ner", *scorer._skip])
    _, blis = timed(lambda: list(stock.pipe(instr, batch_size=scorer.batch_size)))
    rows.append(
        {
            "metric": "stock spaCy nlp.pipe, same components, BLIS ops (parse only)",
            "records": n,
            "per_s": n / blis,
            "model_share": 1.0,
            "per_cpu_s": n / CPU["last"],
        }
    )
    full = spacy.load(scorer.model)
    k = min(n, 500)
    _, naive = timed(lambda: [full(t) for t in instr[:k]])
    rows.append(
        {
            "metric": "baseline: stock spaCy nlp(text) per text, all components (parse only)",
            "records": k,
            "per_s": k / naive,
            "model_share": 1.0,
            "per_cpu_s": k / CPU["last"],
        }
    )

    from instructkit.models.toxicity import load_toxicity
    from instructkit.score.safety import score_safety

    tox = load_toxicity()
    tox.score(["warm up"])
    _, total = timed(score_safety, table)
    cpu = CPU["last"]
    texts = [t for t in instr + resp if t.strip()]
    _, model = timed(tox.score, texts)
    rows.append(
        {
            "metric": "safety (toxicity, user + assistant turns)",
            "records": n,
            "per_s": n / total,
            "model_share": model / total,
            "per_cpu_s": n / cpu,
        }
    )

    from instructkit.score.formatting import score_format

    _, total = timed(score_format, resp)
    rows.append(
        {
            "metric": "format (regex counts + py3langid)",
            "records": n,
            "per_s": n / total,
            "model_share": None,
            "per_cpu_s": n / CPU["last"],
        }
    )

    from instructkit.models.logprobs import LlamaCppBackend
    from instructkit.score.perplexity import PerplexityScorer

    backend = LlamaCppBackend(max_response_tokens=128)
    backend.setup()
    m = args.lm_records
    eval_time = 0.0
    llm = backend._llm
    original = llm.eval

    def counted(tokens):
        nonlocal eval_time
        t0 = time.perf_counter()
        original(tokens)
        eval_time += time.perf_counter() - t0

    llm.eval = counted
    out, total = timed(PerplexityScorer(backend).score, instr[:m], resp[:m])
    llm.eval = original
    tokens = float(np.nansum(out["perplexity.tokens"]))
    rows.append(
        {
            "metric": "perplexity + IFD (SmolLM2-135M, llama.cpp, 2 passes)",
            "records": m,
            "per_s": m / total,
            "model_share": eval_time / total,
            "response_tokens_per_s": tokens / total,
            "per_cpu_s": m / CPU["last"],
        }
    )

    print(f"{n} Alpaca records (first {m} for perplexity)\n")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)\n")
    print(
        "| metric | records | records/s (wall) | records per CPU-second | model share |\n| --- | ---: | ---: | ---: | ---: |"
    )
    for r in rows:
        share = "–" if r["model_share"] is None else f"{r['model_share']:.0%}"
        per_cpu = f"{r['per_cpu_s']:,.1f}" if "per_cpu_s" in r else "–"
        print(f"| {r['metric']} | {r['records']} | {r['per_s']:,.1f} | {per_cpu} | {share} |")
    base = rows[2]["per_s"]
    print(
        f"\ncomplexity vs the spaCy baseline: {rows[0]['per_s'] / base:.2f}x; vs stock nlp.pipe (BLIS): {rows[0]['per_s'] / rows[1]['per_s']:.2f}x"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
