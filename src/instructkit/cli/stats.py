"""``instructkit stats``: a summary table per source; ``--json`` for scripts."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from instructkit import stats_table as core
from instructkit.accounting import RunLog
from instructkit.cli.common import Debug, From, Inputs
from instructkit.cli.console import err, out, text
from instructkit.io.read import ReadOptions, read_tables

Json = Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")]


def _fmt(v: Any) -> Text:
    """A cell as plain text: category names and sources are data, never markup."""
    return text(_str(v))


def _str(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_str(n)}" for k, n in v.items()) or "–"
    return str(v)


NUMBERS = [
    ("records", "records"),
    ("multi-turn", "multi_turn_share"),
    ("turns", "mean_turns"),
    ("instr tok", "instruction_tokens_mean"),
    ("instr chars", "instruction_chars_mean"),
    ("resp tok", "response_tokens_mean"),
    ("resp chars", "response_chars_mean"),
    ("no resp", "no_response"),
    ("empty input", "empty_input_share"),
]


def render(result: dict[str, Any]) -> list[Table]:
    """Sources as rows (the layout of dataset tables in papers); lengths are means."""
    numbers = Table(
        title="instructkit stats (lengths are means; tok = whitespace tokens)", title_justify="left"
    )
    numbers.add_column("source", no_wrap=True)
    for label, _ in NUMBERS:
        numbers.add_column(label, justify="right", overflow="fold")
    content = Table(show_header=True, title_justify="left")
    content.add_column("source", overflow="fold")
    content.add_column("roles", overflow="fold")
    content.add_column("top categories", overflow="fold")
    scores = Table(title="scores", title_justify="left")
    for col in ("source", "metric", "p10", "p50", "p90", "mean", "n"):
        scores.add_column(col, justify="left" if col in ("source", "metric") else "right")
    for src, s in result.items():
        numbers.add_row(text(src), *(_fmt(s[key]) for _, key in NUMBERS))
        content.add_row(text(src), _fmt(s["roles"]), _fmt(s["top_categories"]))
        for metric, q in s["scores"].items():
            scores.add_row(
                text(src),
                text(metric),
                *(f"{q[k]:.4g}" for k in ("p10", "p50", "p90", "mean")),
                f"{q['n']:,}",
            )
    return [numbers, content] + ([scores] if scores.row_count else [])


def register(app: typer.Typer) -> None:
    @app.command()
    def stats(inputs: Inputs, json: Json = False, fmt: From = "auto", debug: Debug = False) -> None:
        """Print a summary table: records, turns, lengths, roles, categories, score quantiles."""
        with RunLog(None, None) as log:
            result = core.compute(read_tables(inputs, log, ReadOptions(fmt=fmt)))
        result_meta = {"rejected_while_reading": dict(log.rejected)}
        if json:
            sys.stdout.write(
                orjson.dumps(
                    {"sources": result, **result_meta}, option=orjson.OPT_INDENT_2
                ).decode()
                + "\n"
            )
            return
        for table in render(result):
            out.print(table)
        if log.rejected:
            err.print(
                text(f"rows that could not be read: {dict(log.rejected)} (run convert to see why)"),
                soft_wrap=True,
            )
