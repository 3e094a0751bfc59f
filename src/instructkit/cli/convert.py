"""``instructkit convert``: any supported format in, records (or another format) out."""

from __future__ import annotations

from typing import Annotated

import typer

from instructkit.cli.common import (
    BatchSize,
    Debug,
    From,
    Inputs,
    MaxChars,
    Output,
    RejectsPath,
    Strict,
    SummaryPath,
    run_steps,
)
from instructkit.io.read import DEFAULT_MAX_RECORD_CHARS

To = Annotated[str, typer.Option("--to", help="Output format: records, alpaca, sharegpt, dolly, openai.")]


def register(app: typer.Typer) -> None:
    @app.command()
    def convert(
        inputs: Inputs,
        output: Output,
        fmt: From = "auto",
        to: To = "records",
        strict: Strict = False,
        rejects: RejectsPath = None,
        summary: SummaryPath = None,
        batch_size: BatchSize = 5000,
        max_record_chars: MaxChars = DEFAULT_MAX_RECORD_CHARS,
        debug: Debug = False,
    ) -> None:
        """Read any supported format and write records, or another format with --to."""
        run_steps(
            inputs, output, [], fmt=fmt, to=to, strict=strict, rejects=rejects, summary=summary,
            batch_size=batch_size, max_record_chars=max_record_chars,
        )
