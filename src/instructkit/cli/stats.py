"""``instructkit stats``: a summary table per source; ``--json`` for scripts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from instructkit import stats_table as core
from instructkit.accounting import RunLog, sidecar
from instructkit.cli.common import Debug, From, Inputs
from instructkit.cli.console import err, out, text
from instructkit.errors import InstructkitError
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


SELECTION = ".selection.jsonl"


def selections(inputs: list[str]) -> tuple[list[str], dict[str, Path]]:
    """The inputs that hold records, and the selection files to summarise: each one given
    directly, and the ``STEM.selection.jsonl`` that ``select`` wrote beside a given output."""
    records: list[str] = []
    found: dict[str, Path] = {}
    for name in inputs:
        path = Path(name)
        if name.endswith(SELECTION):
            found[name] = path
            continue
        records.append(name)
        if path.is_file() and (beside := sidecar(path, "selection")).is_file():
            found[str(beside)] = beside
    return records, found


def read_selection(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The rows of a selection file and how many lines were not a JSON object."""
    rows, bad = [], 0
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError:
                    row = None
                if isinstance(row, dict):
                    rows.append(row)
                else:
                    bad += 1
    except OSError as e:
        raise InstructkitError(f"{path}: cannot read: {e.strerror}") from None
    return rows, bad


def render_selection(name: str, s: dict[str, Any]) -> Table:
    table = Table(title=text(f"selection ({name})"), title_justify="left")  # a path is data
    for col in ("", "min", "p10", "p50", "p90", "max", "mean", "n"):
        table.add_column(col, justify="left" if not col else "right")
    for label, key in (
        ("score", "score"),
        ("similarity to nearest earlier pick", "nearest_similarity"),
    ):
        q = s.get(key)
        if q:
            cells = [
                f"{q[k]:.4g}" if k in q else "–"
                for k in ("min", "p10", "p50", "p90", "max", "mean")
            ]
            table.add_row(label, *cells, f"{q['n']:,}")
    table.caption = (
        f"{s['picks']:,} picks; {s['without_earlier_neighbour']:,} without an earlier neighbour"
        + (f"; {s['unreadable_lines']:,} unreadable lines" if s.get("unreadable_lines") else "")
    )
    table.caption_justify = "left"
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def stats(inputs: Inputs, json: Json = False, fmt: From = "auto", debug: Debug = False) -> None:
        """Print a summary table: records, turns, lengths, roles, categories, score quantiles
        (and, for a select output, its STEM.selection.jsonl)."""
        record_inputs, selection_files = selections(inputs)
        chosen: dict[str, dict[str, Any]] = {}
        for name, path in selection_files.items():
            rows, bad = read_selection(path)
            chosen[name] = core.selection_summary(rows) | ({"unreadable_lines": bad} if bad else {})
        result: dict[str, Any] = {}
        with RunLog(None, None) as log:
            if record_inputs:
                result = core.compute(read_tables(record_inputs, log, ReadOptions(fmt=fmt)))
        result_meta = {"rejected_while_reading": dict(log.rejected)}
        if json:
            doc = {"sources": result, **result_meta} | ({"selections": chosen} if chosen else {})
            sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
            return
        for table in render(result) if result else []:
            out.print(table)
        for name, summary in chosen.items():
            out.print(render_selection(name, summary))
        if log.rejected:
            err.print(
                text(f"rows that could not be read: {dict(log.rejected)} (run convert to see why)"),
                soft_wrap=True,
            )
