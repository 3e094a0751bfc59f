"""Entry point: builds the typer app from one module per command and turns errors into one clear line.

Exit codes (spec): 0 the command ran (even with rejects); 2 a usage error, an
unreadable input or ``--strict``; 130 interrupted (Ctrl-C); 1 an internal error.
"""

from __future__ import annotations

import importlib
import signal
import sys
from types import FrameType

import typer
from typer import _click as click  # typer vendors its own click: its exceptions are these

from instructkit.cli.console import err, one_line, plain_help, quiet_libraries, text
from instructkit.errors import InstructkitError

quiet_libraries()  # before any command module can import transformers or the hub client

app = typer.Typer(
    name="instructkit",
    help="Build small, clean, diverse, uncontaminated instruction-tuning datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Off a terminal, click's plain help: wrapped, never cut with "…".
    rich_markup_mode=None if plain_help() else "rich",
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


class Interrupted(BaseException):
    """Ctrl-C, raised in place of KeyboardInterrupt so that no library (click turns that into
    an exit code, asyncio and tenacity handle it themselves) can swallow it on the way out."""


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


def _fail(label: str, message: object, code: int) -> None:
    err.print(text(f"{label}: ", "red") + text(one_line(message)), highlight=False, soft_wrap=True)
    sys.exit(code)


def main() -> None:
    debug = "--debug" in sys.argv
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        code = app(standalone_mode=False)
    except (Interrupted, KeyboardInterrupt, typer.Abort):
        _fail("aborted", "interrupted; no output was written", 130)
    except InstructkitError as e:
        if debug:
            raise
        _fail("error", e, e.exit_code)
    except click.exceptions.NoArgsIsHelpError as e:
        e.show()
        sys.exit(2)
    except click.exceptions.ClickException as e:
        hint = f" (see {e.ctx.command_path} --help)" if getattr(e, "ctx", None) else ""
        _fail("error", e.format_message() + hint, 2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except BrokenPipeError:  # `instructkit stats | head`: the reader has gone, nothing to say
        sys.stderr.close()
        sys.exit(0)
    except Exception as e:  # an internal error: one line, exit 1
        if debug:
            raise
        _fail(
            "internal error", f"{type(e).__name__}: {e} (rerun with --debug for the traceback)", 1
        )
    if isinstance(code, int) and code:  # click returns Exit codes instead of raising them
        if code == 130:
            _fail("aborted", "interrupted; no output was written", 130)
        sys.exit(code)
