"""``instructkit dedup``: exact, near-duplicate (MinHash LSH) and semantic (embedding) deduplication."""

from __future__ import annotations

from typing import Annotated

import typer

from instructkit.cli.common import (
    Common,
    Inputs,
    Output,
    common_options,
    run_steps,
)
from instructkit.models.embeddings import DEFAULT_EMBEDDING_MODEL

Method = Annotated[
    str, typer.Option("--method", help="Comma list of exact, near, semantic (run in that order).")
]
Threshold = Annotated[
    float,
    typer.Option("--threshold", help="Near-duplicate Jaccard threshold over word n-gram shingles."),
]
NumPerm = Annotated[
    int, typer.Option("--num-perm", help="MinHash permutations (signature length).")
]
Ngram = Annotated[int, typer.Option("--ngram", help="Words per shingle for near-duplicates.")]
SemThreshold = Annotated[
    float, typer.Option("--semantic-threshold", help="Cosine threshold for semantic duplicates.")
]
Model = Annotated[
    str,
    typer.Option(
        "--embedding-model",
        help="'minilm' (offline package) or any sentence-transformers id or path.",
    ),
]
Fields = Annotated[
    str,
    typer.Option(
        "--fields", help="Compare 'all' turns (instruction + response) or the 'instruction' only."
    ),
]
Cluster = Annotated[
    str,
    typer.Option(
        "--cluster",
        help="star (default): drop only records similar to a kept one; components: one record per connected cluster (union-find, chains).",
    ),
]
KeepBest = Annotated[
    str | None,
    typer.Option(
        "--keep-best",
        help="Keep the record with the highest scores.METRIC per cluster (default: the first seen).",
    ),
]


def register(app: typer.Typer) -> None:
    @app.command()
    @common_options(batch_size=5000)
    def dedup(
        inputs: Inputs,
        output: Output,
        method: Method = "exact,near",
        threshold: Threshold = 0.8,
        num_perm: NumPerm = 128,
        ngram: Ngram = 3,
        semantic_threshold: SemThreshold = 0.95,
        embedding_model: Model = DEFAULT_EMBEDDING_MODEL,
        fields: Fields = "all",
        keep_best: KeepBest = None,
        cluster: Cluster = "star",
        *,
        common: Common,
    ) -> None:
        """Remove duplicates, keeping one record per cluster; every removal is a reject naming the kept id."""
        from instructkit.steps.dedup import Dedup

        step = Dedup(
            method,
            fields=fields,
            threshold=threshold,
            num_perm=num_perm,
            ngram=ngram,
            semantic_threshold=semantic_threshold,
            embedding_model=embedding_model,
            keep_best=keep_best,
            cluster=cluster,
        )
        run_steps(inputs, output, [step], common)
