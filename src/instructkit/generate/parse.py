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
_SPACE = re.compile(r"\s+")
#: A second number left at an item's start ("1. 3. Convert ...": the model numbered it twice).
_NUMBER = re.compile(r"^(?:\d{1,3}[.)] +)+")
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
_LABEL = re.compile(
    r"^[ \t]*(?:\*\*)?(input|output|class label|label)(?:\*\*)?[ \t]*:(?:\*\*)?[ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
_ECHO = re.compile(r"\A\s*Task[ \t]*:[^\n]*(?:\n|\Z)")
_NEXT_TASK = re.compile(r"^[ \t]*Task[ \t]*:", re.MULTILINE)
_EMPTY_INPUT = {"", "none", "n/a", "<empty>", "empty", "no input", "(none)", "null"}


def _tidy(text: str) -> str:
    """One line, outer white space, a repeated item number, one pair of wrapping quotes or ``**``
    and a trailing ``;`` or ``,`` gone (list punctuation, not the task's), first letter upper case."""
    text = _NUMBER.sub("", _SPACE.sub(" ", text).strip()).rstrip(";,").rstrip()
    for mark in ('"', "'", "**"):
        if len(text) >= 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
            text = text[len(mark) : -len(mark)].strip()
    return text[:1].upper() + text[1:]


def parse_instructions(answer: str, truncated: bool = False, open_item: bool = True) -> list[str]:
    """The instructions of an answer to the bootstrap prompt, in order.

    When the prompt ends with an open number (``9.``, the paper's prompt:
    ``open_item``), text before the first numbered line is the model's item 9,
    unless it is a preamble (it ends with a colon: "Here are more tasks:");
    otherwise it is never an item ("Sure! Here they are.").  The tasks are shown one per line, so an
    item is the first line after its number: the lines after it are the
    model answering its own task (small models do) or chatter after the list,
    not part of the instruction.  When the answer was cut off at the token
    limit inside an item's line, that item is incomplete and is dropped (as
    Stanford Alpaca does); an item whose line was finished before the cut is
    kept.
    """
    marks = list(_ITEM.finditer(answer))
    starts = [0] + [m.end() for m in marks]
    ends = [m.start() for m in marks] + [len(answer)]
    items: list[str] = []
    cut = False
    for i, (start, end) in enumerate(zip(starts, ends)):
        chunk = answer[start:end].lstrip()
        line, newline, _ = chunk.partition("\n")
        text = _tidy(line)
        if not text or (i == 0 and (not open_item or text.endswith(":"))):
            continue
        items.append(text)
        cut = not newline and end == len(answer)
    if truncated and cut:
        items.pop()
    return items


def parse_classification(answer: str) -> bool | None:
    """The yes/no of the classification question (its first yes or no), None when neither is there."""
    m = _YES_NO.search(answer)
    return None if m is None else m.group(1).lower() == "yes"


def parse_instances(answer: str, classification: bool) -> list[tuple[str, str | None]]:
    """(input, output) pairs from "Input: .. Output: .." or, output-first, "Class label: .. Input: ..".

    A first line that only repeats "Task: ..." is skipped; after that only this
    task's examples are read: when the model goes on with a new "Task:" of its
    own, that text is not an example of this one.  Output-first, a label
    written as "Output:" or "Label:" still counts as the class label.
    Input-first, an input the model gave no output for is returned with the
    output None (small models often stop after the input): the caller may
    ask for the output on its own.
    """
    answer = _ECHO.sub("", answer, count=1)
    answer = _NEXT_TASK.split(answer, maxsplit=1)[0]
    marks = list(_LABEL.finditer(answer))
    ends = [m.start() for m in marks[1:]] + [len(answer)]
    pairs: list[tuple[str, str | None]] = []
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
            if pending is not None:
                pairs.append((_input(pending), None))
            pending = value
        elif name == "output":  # "Output:" alone: a task with no input
            pairs.append((_input(pending or ""), value))
            pending = None
    if pending is not None and not classification:
        pairs.append((_input(pending), None))
    return pairs


def _input(text: str) -> str:
    return "" if text.strip().lower() in _EMPTY_INPUT else text
