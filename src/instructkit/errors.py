"""Errors that end a command with a clear one-line message (exit 2) instead of a traceback."""

from __future__ import annotations


class InstructkitError(Exception):
    """A problem the user can fix: bad usage, unreadable input, missing optional model. Exit 2."""

    exit_code = 2


class RowError(Exception):
    """One input row is invalid; it becomes a reject and the run goes on (unless ``--strict``).

    ``reason`` is the short code written to the rejects file (``invalid_json``,
    ``missing_field``, ``empty_turn``, ...); the message is the detail.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class StrictError(InstructkitError):
    """Raised at the first reject when ``--strict`` is on."""


class MissingDependency(InstructkitError):
    """An optional extra is not installed; the message names the pip command that fixes it."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package: pip install 'instructkit[{extra}]'"
        )
