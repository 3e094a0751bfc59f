"""Entry point: builds the typer app from one module per command and turns errors into one clear line."""

from __future__ import annotations

import importlib
import sys

import typer

from instructkit.cli.common import err
from instructkit.errors import InstructkitError

app = typer.Typer(
    name="instructkit",
    help="Build small, clean, diverse, uncontaminated instruction-tuning datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: One module per command under instructkit.cli; each defines register(app).
COMMANDS = [
    "convert",
    "stats",
    "report",
    "steps",  # one command per registered step: clean, dedup, decontaminate, score, evolve, ...
    "run",
]

for _name in COMMANDS:
    importlib.import_module(f"instructkit.cli.{_name}").register(app)


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        app(standalone_mode=False)
    except InstructkitError as e:
        if debug:
            raise
        err.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("[red]aborted[/red]")
        sys.exit(130)
    except __import__("click").exceptions.ClickException as e:
        e.show()
        sys.exit(2)
    except Exception as e:  # an internal error: one line, exit 1
        if debug:
            raise
        err.print(
            f"[red]internal error:[/red] {type(e).__name__}: {e} (rerun with --debug for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
