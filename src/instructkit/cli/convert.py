"""``instructkit convert``: any supported format in, records (or another format) out."""

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

To = Annotated[
    str, typer.Option("--to", help="Output format: records, alpaca, sharegpt, dolly, openai.")
]


def register(app: typer.Typer) -> None:
    @app.command()
    @common_options(batch_size=5000)
    def convert(
        inputs: Inputs,
        output: Output,
        to: To = "records",
        *,
        common: Common,
    ) -> None:
        """Read any supported format and write records, or another format with --to."""
        run_steps(inputs, output, [], common, to=to)
