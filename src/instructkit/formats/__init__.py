"""Every supported instruction format, and detection of which one a file is in.

Detection order matters: the more specific shapes come first (an OASST tree
also has a ``prompt``; Self-Instruct also has an ``instruction``).
"""

from __future__ import annotations

from typing import Any

from instructkit.errors import InstructkitError
from instructkit.formats import alpaca, dolly, evol, lima, misc, oasst, openai, records, sharegpt
from instructkit.formats.base import Format

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        records.FORMAT,
        oasst.FORMAT,
        openai.FORMAT,
        sharegpt.FORMAT,
        lima.FORMAT,
        misc.SELF_INSTRUCT,
        dolly.FORMAT,
        alpaca.FORMAT,
        evol.FORMAT,
        misc.PROMPT,
        misc.TEXT,
    )
}
#: Formats a record set can be written back to (``--to``).
WRITABLE = tuple(name for name, f in FORMATS.items() if f.emit is not None)


def detect(row: Any) -> Format | None:
    for fmt in FORMATS.values():
        if fmt.detect(row):
            return fmt
    return None


def get(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise InstructkitError(
            f"unknown format '{name}': choose one of {', '.join(FORMATS)}"
        ) from None


def writer(name: str) -> Format:
    fmt = get(name)
    if fmt.emit is None:
        raise InstructkitError(
            f"format '{name}' can be read but not written: --to takes {', '.join(WRITABLE)}"
        )
    return fmt
