"""``instructkit stats``: a summary table per source; ``--json`` for scripts."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from instructkit import stats as core
from instructkit.accounting import RunLog
from instructkit.cli.common import Debug, From, Inputs, err, out
from instructkit.io.read import ReadOptions, read_batches

Json = Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")]


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_fmt(n)}" for k, n in v.items()) or "–"
    return str(v)


ROWS = [
    ("records", "records"),
    ("multi-turn share", "multi_turn_share"),
    ("mean turns", "mean_turns"),
    ("instruction tokens (mean)", "instruction_tokens_mean"),
    ("instruction chars (mean)", "instruction_chars_mean"),
    ("response tokens (mean)", "response_tokens_mean"),
    ("response chars (mean)", "response_chars_mean"),
    ("no response", "no_response"),
    ("empty-input share", "empty_input_share"),
    ("roles", "roles"),
    ("top categories", "top_categories"),
]


def register(app: typer.Typer) -> None:
    @app.command()
    def stats(inputs: Inputs, json: Json = False, fmt: From = "auto", debug: Debug = False) -> None:
        """Print a summary table: records, turns, lengths, roles, categories, score quantiles."""
        with RunLog(None, None) as log:
            result = core.compute(read_batches(inputs, log, ReadOptions(fmt=fmt)))
        result_meta = {"rejected_while_reading": dict(log.rejected)}
        if json:
            out.print_json(orjson.dumps({"sources": result, **result_meta}).decode())
            return
        table = Table(title="instructkit stats", title_justify="left")
        table.add_column("")
        for src in result:
            table.add_column(src, overflow="fold")
        for label, key in ROWS:
            table.add_row(label, *(_fmt(result[s][key]) for s in result))
        metrics = sorted({m for s in result.values() for m in s["scores"]})
        for m in metrics:
            table.add_row(
                f"{m} (p10/p50/p90)",
                *(
                    "/".join(f"{result[s]['scores'][m][q]:.3g}" for q in ("p10", "p50", "p90")) if m in result[s]["scores"] else "–"
                    for s in result
                ),
            )
        out.print(table)
        if log.rejected:
            err.print(f"rows that could not be read: {dict(log.rejected)} (run convert to see why)")
