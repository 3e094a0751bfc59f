"""What ``instructkit evolve`` prints after its summary: the per-round table."""

from __future__ import annotations

from typing import Any

from instructkit.cli.common import err
from instructkit.cli.console import text


def print_rounds(summary: dict[str, Any]) -> None:
    """The per-round table on stderr: counts, elimination reasons, complexity gain."""
    from rich.table import Table

    report = summary.get("steps", {}).get("evolve", {})
    if not report.get("rounds"):
        return
    table = Table(title=text(f"evolve rounds ({report.get('model')})"), title_justify="left")
    for col in ("round", "evolved", "survived", "eliminated", "failed calls", "complexity gain"):
        table.add_column(col)
    for row in report["rounds"]:
        gain = row.get("mean_complexity_gain")
        table.add_row(
            str(row["round"]), str(row["evolved"]), str(row["survived"]),
            text(", ".join(f"{k} {v}" for k, v in row["eliminated"].items()) or "-"),
            str(row["failed_calls"]), f"{gain:+.3f}" if isinstance(gain, float) else str(gain),
        )  # fmt: skip
    err.print(table)
