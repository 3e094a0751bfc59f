"""Options and output shared by every command, so they behave the same everywhere."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from instructkit.cli.console import err, plain, text
from instructkit.engines import local
from instructkit.io.read import DEFAULT_MAX_RECORD_CHARS, ReadOptions
from instructkit.steps.base import Step

F = TypeVar("F", bound=Callable[..., Any])


Inputs = Annotated[
    list[str], typer.Argument(help="Files, folders, or hf:ORG/NAME[:split].", show_default=False)
]
Output = Annotated[
    Path,
    typer.Option(
        "-o",
        "--output",
        help="Output file; its extension (.jsonl, .json, .parquet) picks the type.",
    ),
]
From = Annotated[
    str,
    typer.Option(
        "--from", help="Input format: auto, alpaca, sharegpt, dolly, openai, evol, lima, oasst, ..."
    ),
]
Strict = Annotated[
    bool, typer.Option("--strict", help="Stop with exit 2 at the first rejected row.")
]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
RejectsPath = Annotated[
    Path | None,
    typer.Option("--rejects", help="Rejects file (default: STEM.rejects.jsonl beside OUTPUT)."),
]
SummaryPath = Annotated[
    Path | None,
    typer.Option("--summary", help="Summary file (default: STEM.summary.json beside OUTPUT)."),
]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Records per batch.")]
MaxChars = Annotated[
    int, typer.Option("--max-record-chars", min=1, help="Reject records with more text than this.")
]


@dataclass(frozen=True)
class Common:
    """The options every record-writing command takes, gathered by :func:`common_options`."""

    fmt: str = "auto"
    strict: bool = False
    rejects: Path | None = None
    summary: Path | None = None
    batch_size: int = 5000
    max_record_chars: int = DEFAULT_MAX_RECORD_CHARS


def comma_list(value: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``: how every comma-separated option is read."""
    return tuple(v.strip() for v in value.split(",") if v.strip())


def common_options(batch_size: int = 5000) -> Callable[[F], F]:
    """Add the shared options (``--from``, ``--strict``, ``--rejects``, ``--summary``,
    ``--batch-size``, ``--max-record-chars``, ``--debug``) to a command's signature and hand
    them to it as one ``common: Common`` argument, so every command declares them once."""

    shared = [
        inspect.Parameter("fmt", inspect.Parameter.KEYWORD_ONLY, default="auto", annotation=From),
        inspect.Parameter(
            "strict", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Strict
        ),
        inspect.Parameter(
            "rejects", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=RejectsPath
        ),
        inspect.Parameter(
            "summary", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=SummaryPath
        ),
        inspect.Parameter(
            "batch_size", inspect.Parameter.KEYWORD_ONLY, default=batch_size, annotation=BatchSize
        ),
        inspect.Parameter(
            "max_record_chars",
            inspect.Parameter.KEYWORD_ONLY,
            default=DEFAULT_MAX_RECORD_CHARS,
            annotation=MaxChars,
        ),
        inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Debug),
    ]
    names = [p.name for p in shared if p.name != "debug"]

    def wrap(func: F) -> F:
        hints = typing.get_type_hints(func, include_extras=True)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(func).parameters.values()
            if p.name != "common"
        ]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            common = Common(**{k: kwargs.pop(k) for k in names})
            kwargs.pop("debug")  # read by main() from argv, before parsing
            return func(**kwargs, common=common)

        params = own + shared
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command  # type: ignore[return-value]

    return wrap


def run_steps(
    inputs: list[str],
    output: Path,
    steps: list[Step],
    common: Common,
    *,
    to: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the engine with a progress display on stderr, then print the summary table."""
    options = ReadOptions(
        fmt=common.fmt, batch_size=common.batch_size, max_record_chars=common.max_record_chars
    )
    with record_progress(", ".join(s.name for s in steps) or "convert") as tick:
        result = local.run(
            inputs,
            output,
            steps,
            to=to,
            read_options=options,
            rejects=common.rejects,
            summary=common.summary,
            strict=common.strict,
            progress=tick,
            extra=extra,
        )
    print_summary(result)
    return result


@contextmanager
def record_progress(description: str) -> Iterator[Callable[[int], None]]:
    """A records-so-far display on stderr, on a terminal only; yields the function that updates it."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=None),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task(plain(description), total=None)
        yield lambda n: bar.update(task, completed=n)


def print_summary(summary: dict[str, Any]) -> None:
    """The run's books on stderr; every value from data or paths is shown as plain text."""
    title = text("→ ") + text(summary.get("output", ""))
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_row("records in", f"{summary['records_in']:,}")
    table.add_row("records out", f"{summary['records_out']:,}")
    for reason, n in summary["rejected"].items():
        table.add_row(text(f"rejected: {reason}"), f"{n:,}")
    for fmt_file, fmt in summary.get("formats", {}).items():
        table.add_row("format", text(f"{fmt}  ({fmt_file})"))
    renamed = summary.get("ids_renamed") or 0
    if renamed:
        table.add_row("ids made unique", f"{renamed:,} repeated ids renamed (SOURCE/ID, ~N)")
    table.add_row("seconds", f"{summary['seconds'].get('total', 0):.2f}")
    err.print(table)
