"""Reading the model's answers: numbered instructions, a yes/no, and input/output instances.

Kept apart from prompt building (distilabel's ``format_input`` /
``format_output`` split) so each side can be tested and swapped alone.  Every
parser is total: whatever the model writes, it returns a (possibly empty)
result, never raises.
"""

from __future__ import annotations

import re

#: "3. ", "3) ", "  12. " at a line start: a numbered item.
_ITEM = re.compile(r"^[ \t]*(?:\*\*)?(\d{1,3})[.)](?:\*\*)?[ \t]+", re.MULTILINE)
_BLANK = re.compile(r"\n[ \t]*\n")
_SPACE = re.compile(r"\s+")
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
_LABEL = re.compile(
    r"^[ \t]*(?:\*\*)?(input|output|class label|label)(?:\*\*)?[ \t]*:(?:\*\*)?[ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
_ECHO = re.compile(r"\A\s*Task[ \t]*:[^\n]*(?:\n|\Z)")
_NEXT_TASK = re.compile(r"^[ \t]*Task[ \t]*:", re.MULTILINE)
_EMPTY_INPUT = {"", "none", "n/a", "<empty>", "empty", "no input", "(none)", "null"}


def _tidy(text: str) -> str:
    """One line, outer white space and one pair of wrapping quotes gone, first letter upper case."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text[:1].upper() + text[1:]


def parse_instructions(answer: str, truncated: bool = False) -> list[str]:
    """The instructions of an answer to the bootstrap prompt, in order.

    The prompt ends with an open number (``9.``), so text before the first
    numbered line is the model's item 9, unless it is a preamble (it ends with
    a colon: "Here are more tasks:").  An item ends at the next number or at a
    blank line, so chatter after the list is not glued to the last item.  When
    the answer was cut off at the token limit, its last item is incomplete and
    is dropped (as Stanford Alpaca does).
    """
    marks = list(_ITEM.finditer(answer))
    chunks = [answer[: marks[0].start()] if marks else answer]
    chunks += [answer[m.end() : nxt.start()] for m, nxt in zip(marks, marks[1:])]
    if marks:
        chunks.append(answer[marks[-1].end() :])
    items: list[str] = []
    for i, chunk in enumerate(chunks):
        first = _BLANK.split(chunk.strip(), maxsplit=1)[0] if chunk.strip() else ""
        text = _tidy(first)
        if not text or (i == 0 and text.endswith(":")):
            continue
        items.append(text)
    if truncated and items:
        items.pop()
    return items


def parse_classification(answer: str) -> bool | None:
    """The yes/no of the classification question (its first yes or no), None when neither is there."""
    m = _YES_NO.search(answer)
    return None if m is None else m.group(1).lower() == "yes"


def parse_instances(answer: str, classification: bool) -> list[tuple[str, str]]:
    """(input, output) pairs from "Input: .. Output: .." or, output-first, "Class label: .. Input: ..".

    A first line that only repeats "Task: ..." is skipped; after that only this
    task's examples are read: when the model goes on with a new "Task:" of its
    own, that text is not an example of this one.  Output-first, a label
    written as "Output:" or "Label:" still counts as the class label.
    """
    answer = _ECHO.sub("", answer, count=1)
    answer = _NEXT_TASK.split(answer, maxsplit=1)[0]
    marks = list(_LABEL.finditer(answer))
    ends = [m.start() for m in marks[1:]] + [len(answer)]
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for m, end in zip(marks, ends):
        name, value = m.group(1).lower(), answer[m.end() : end].strip()
        if classification:
            if name != "input":
                pending = value
            elif pending is not None:
                pairs.append((_input(value), pending))
                pending = None
        elif name == "input":
            pending = value
        elif name == "output":  # "Output:" alone: a task with no input
            pairs.append((_input(pending or ""), value))
            pending = None
    return pairs


def _input(text: str) -> str:
    return "" if text.strip().lower() in _EMPTY_INPUT else text
