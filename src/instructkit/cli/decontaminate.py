"""``instructkit decontaminate``: drop or flag records that overlap evaluation benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from instructkit.accounting import sidecar_paths
from instructkit.cli.common import (
    Common,
    Inputs,
    Output,
    common_options,
    run_steps,
)
from instructkit.decontam.benchmarks import ADAPTERS
from instructkit.decontam.cache import default_dir
from instructkit.steps.decontaminate import DEFAULT_BAND, DEFAULT_THRESHOLD, Decontaminate

Benchmarks = Annotated[
    list[str],
    typer.Option(
        "--benchmark",
        "-b",
        show_default=False,
        help=f"Repeatable. A built-in name ({', '.join(ADAPTERS)}) or a file: [NAME=]PATH[:FIELD,FIELD...].",
    ),
]
BenchDir = Annotated[
    Path | None,
    typer.Option(
        "--benchmark-dir",
        help="Read built-in benchmarks from this folder (offline), e.g. shared/data/benchmarks.",
    ),
]
Ngram = Annotated[
    int,
    typer.Option(
        "--ngram", min=1, help="Words per n-gram; benchmark texts shorter than this match whole."
    ),
]
MinOverlap = Annotated[
    float,
    typer.Option(
        "--min-overlap",
        min=0.0,
        max=1.0,
        help="Share of a benchmark item's n-grams a record must contain (0: any one n-gram).",
    ),
]
Model = Annotated[
    str,
    typer.Option(
        "--embedding-model",
        help="'minilm' (offline package), any sentence-transformers id or path, or 'none' (n-grams only).",
    ),
]
Threshold = Annotated[
    float,
    typer.Option(
        "--embedding-threshold", help="Cosine at or above which a user turn is contaminated."
    ),
]
Band = Annotated[
    float,
    typer.Option(
        "--suspicious-band",
        help="Lower edge of the suspicious band [LOW, threshold): written as hits, sent to the judge.",
    ),
]
Mode = Annotated[
    str,
    typer.Option(
        "--mode", help="filter: drop contaminated records; flag: keep all, only write hits."
    ),
]
JudgeUrl = Annotated[
    str | None,
    typer.Option("--judge-url", help="OpenAI-compatible base URL of an LLM that judges the band."),
]
JudgeModel = Annotated[
    str | None, typer.Option("--judge-model", help="Model name for --judge-url.")
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Where built benchmark indexes are kept (default ~/.cache/instructkit/decontam).",
    ),
]
NoCache = Annotated[
    bool,
    typer.Option("--no-cache", help="Build the benchmark indexes afresh and do not store them."),
]
Hits = Annotated[
    Path | None, typer.Option("--hits", help="Hits file (default: STEM.hits.jsonl beside OUTPUT).")
]


def register(app: typer.Typer) -> None:
    @app.command()
    @common_options(batch_size=5000)
    def decontaminate(
        inputs: Inputs,
        output: Output,
        benchmark: Benchmarks,
        benchmark_dir: BenchDir = None,
        ngram: Ngram = 13,
        min_overlap: MinOverlap = 0.0,
        embedding_model: Model = "minilm",
        embedding_threshold: Threshold = DEFAULT_THRESHOLD,
        suspicious_band: Band = DEFAULT_BAND,
        mode: Mode = "filter",
        judge_url: JudgeUrl = None,
        judge_model: JudgeModel = None,
        cache_dir: CacheDir = None,
        no_cache: NoCache = False,
        hits: Hits = None,
        *,
        common: Common,
    ) -> None:
        """Remove records that overlap benchmarks (n-grams, embeddings, optional LLM judge); write STEM.hits.jsonl."""
        stem_rejects, _ = sidecar_paths(output)
        hits_path = hits or stem_rejects.with_name(
            stem_rejects.name.replace(".rejects.jsonl", ".hits.jsonl")
        )
        step = Decontaminate(
            benchmark,
            benchmark_dir=benchmark_dir,
            n=ngram,
            min_overlap=min_overlap,
            embedding_model=None if embedding_model.lower() == "none" else embedding_model,
            threshold=embedding_threshold,
            band=suspicious_band,
            mode=mode,
            judge_url=judge_url,
            judge_model=judge_model,
            cache_dir=None if no_cache else (cache_dir or default_dir()),
            hits_path=hits_path,
        )
        run_steps(inputs, output, [step], common, extra={"hits": str(hits_path)})
