"""``instructkit report INPUT... -o report.html [--card README.md]``: the page and the dataset card."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from instructkit.cli.common import Debug, err
from instructkit.cli.console import text
from instructkit.errors import InstructkitError

Html = Annotated[Path, typer.Option("-o", "--output", help="The HTML report to write.")]
Card = Annotated[
    Path | None, typer.Option("--card", help="Also write the dataset card (README.md) here.")
]
Name = Annotated[
    str | None, typer.Option("--name", help="The dataset's name (default: the recipe's name).")
]
License = Annotated[
    list[str] | None,
    typer.Option(
        "--license",
        help="SOURCE=LICENSE, repeatable (default: the recipe's inputs), e.g. dolly=cc-by-sa-3.0.",
    ),
]


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        inputs: Annotated[
            list[Path],
            typer.Argument(help="A run directory, or step outputs in order (with sidecar files)."),
        ],
        output: Html,
        card: Card = None,
        name: Name = None,
        license: License = None,
        debug: Debug = False,
    ) -> None:
        """Write an HTML report of a run (and its dataset card): one file that fetches nothing."""
        from instructkit.report import report as write

        sources = None
        if license:
            sources = []
            for item in license:
                source, sep, lic = item.partition("=")
                if not sep or not source or not lic:
                    raise InstructkitError(
                        f"option '--license': expected SOURCE=LICENSE, got {item!r}"
                    )
                sources.append({"source": source, "license": lic})
        result = write(inputs, output, card, name=name, sources=sources)
        err.print(
            text(
                f"→ {result['html']} ({result['html_bytes'] / 1024:,.0f} KiB, "
                f"{result['records']:,} records, {result['seconds']['total']:.1f} s)"
                + (f"; card {result['card']}" if "card" in result else "")
            ),
            highlight=False,
            soft_wrap=True,
        )
