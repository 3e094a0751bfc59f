"""Plain text for the terminal: every value that comes from data, paths or error messages
passes through :func:`plain` (or :func:`text`) before rich sees it.

Dataset text is data, never markup and never terminal commands: ``[/]`` in a category
would make rich raise, ``[bold]`` would be swallowed, and an ESC sequence in a file
name could clear the screen or retitle the window.  So markup brackets are escaped and
every C0/C1 control character (ESC, BEL, CSI, ...) is shown as a visible ``\\xNN``
escape; newlines and tabs too, so one value stays on one line.
"""

from __future__ import annotations

import os
import re
import sys

from rich.console import Console
from rich.markup import escape
from rich.text import Text

#: C0 controls, DEL and C1 controls: none may reach a terminal raw.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def strip_controls(value: object) -> str:
    """``str(value)`` with every control character replaced by its visible ``\\xNN`` escape."""
    return _CONTROL.sub(_visible, str(value))


def plain(value: object) -> str:
    """``value`` as a markup-safe, control-free string, for f-strings printed with markup."""
    return escape(strip_controls(value))


def text(value: object, style: str = "") -> Text:
    """``value`` as a rich :class:`Text` (never parsed as markup), control characters escaped."""
    return Text(strip_controls(value), style=style)


#: Width of a console that does not write to a terminal: wide enough that no table cell is
#: cut with "…" (rich tables are only as wide as their content, so this pads nothing).
WIDE = 10_000


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(stderr=stderr, width=None if tty or os.environ.get("COLUMNS") else WIDE)


def plain_help() -> bool:
    """Help goes to stdout; off a terminal it is click's plain text (wrapped, never cut)."""
    return not sys.stdout.isatty()


err = _console(stderr=True)
out = _console(stderr=False)


_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    """One line on stderr, once per run for each ``key``: a caveat the summary file repeats."""
    if key not in _warned:
        _warned.add(key)
        err.print(text("warning: ", "yellow") + text(message), highlight=False, soft_wrap=True)


#: Environment that keeps third-party progress bars and retry chatter off stderr.
QUIET_ENV = {
    "TQDM_DISABLE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_VERBOSITY": "error",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
}


def quiet_libraries() -> None:
    """Silence the libraries' own progress bars and logs (a variable the user set wins):
    stderr carries our one-line errors, our summary and, on a terminal, our progress."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def one_line(message: object) -> str:
    """A multi-line message (a YAML error, an SDK error) folded onto one line."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())
