"""Broken conversations: repair what is unambiguous, name what is not.

Repairs (recorded in ``scores`` so they stay explainable): placeholder inputs
("<noinput>", "No input.") become empty, consecutive turns by one role are
merged, a leading assistant turn (the tail of a split ShareGPT chunk) and a
trailing unanswered user turn are dropped, an empty system prompt is dropped.
Everything else that is broken is a :class:`Finding` with the reason code and
the turn it is about.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from instructkit.schema import Record
from instructkit.text import normalize

FORMAT_HINTS = "_format"
INPUT_KEYS = ("input", "context")
#: Inputs that mean "no input" in Alpaca-style data (compared after stripping brackets and punctuation).
PLACEHOLDER_INPUTS = frozenset(
    {
        "noinput",
        "no input",
        "no input required",
        "no input needed",
        "none",
        "n/a",
        "na",
        "null",
        "nan",
        "empty",
        "not applicable",
        "nil",
        "no input provided",
        "blank",
    }
)
_PLACEHOLDER_STRIP = re.compile(r"^[\s<\[({\"']+|[\s>\])}\"'.!]+$")
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\d+[.)]\s")
_INVISIBLE_CHARS = "\u200b\u200c\u200d\u2060\ufeff"
_INVISIBLE = str.maketrans("", "", _INVISIBLE_CHARS)


def _visible(text: str) -> str:
    """The text without zero-width characters; returned as is when it has none (a substring search is far cheaper than ``translate``)."""
    if text.isascii() or not any(c in text for c in _INVISIBLE_CHARS):
        return text
    return text.translate(_INVISIBLE)


#: A worked result on the last line ("... = 624 pages a year", "#### 72", "left with 28
#: buttons"): a math answer's last line names what was counted after the number, and is
#: complete without a full stop.
_RESULT = re.compile(r"=\s*[$€£]?\s*-?\d|^#### |\d\s+[a-z]+(?:\s+[a-z]+)?$")
#: Words a finished sentence does not end on.
_DANGLING = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "by",
        "from",
        "as",
        "that",
        "which",
        "who",
        "is",
        "are",
        "was",
        "were",
        "be",
        "their",
        "its",
        "his",
        "her",
        "our",
        "your",
        "my",
        "this",
        "these",
        "those",
        "than",
        "then",
        "if",
        "when",
        "while",
        "because",
        "into",
    ]
)


@dataclass(frozen=True, slots=True)
class Finding:
    reason: str
    rule: str
    turn: int | None
    detail: str


@dataclass
class Bounds:
    min_response_words: int = 1
    max_chars: int = 100_000
    check_truncation: bool = True
    check_echo: bool = True


def _turn(i: int, role: str) -> str:
    return f"turn {i} ({role})"


def normalize_placeholder_input(rec: Record) -> bool:
    """Empty a placeholder input in ``meta`` and cut it from the user text it was appended to."""
    meta = rec["meta"]
    for key in INPUT_KEYS:
        value = meta.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        if _PLACEHOLDER_STRIP.sub("", value).casefold() not in PLACEHOLDER_INPUTS:
            continue
        suffix = "\n\n" + value
        for m in reversed(rec["messages"]):
            if m["role"] == "user" and m["content"].endswith(suffix):
                m["content"] = m["content"][: -len(suffix)]
                break
        meta[key] = ""
        return True
    return False


def _apply_groups(rec: Record, groups: list[list[int]]) -> None:
    """Rebuild messages from groups of old indices (merged in order), keeping per-turn format hints aligned."""
    old = rec["messages"]
    rec["messages"] = [
        {"role": old[g[0]]["role"], "content": "\n\n".join(old[i]["content"] for i in g)}
        for g in groups
    ]
    hints: dict[str, Any] = rec["meta"].get(FORMAT_HINTS) or {}
    for key, value in list(hints.items()):
        if isinstance(value, list) and len(value) == len(old):
            hints[key] = [value[g[0]] for g in groups]


def repair(
    rec: Record, edits: list[dict[str, Any]] | None = None
) -> tuple[Counter[str], Finding | None]:
    """Fix alternation where it is unambiguous; return the repairs made, or the finding that rejects the record.

    ``edits`` (when given) receives one entry per repair naming the original turns it touched.
    """
    repairs: Counter[str] = Counter()
    log = edits if edits is not None else []
    msgs = rec["messages"]
    if not msgs:
        return repairs, Finding("empty_turn", "no_messages", None, "the record has no messages")
    groups: list[list[int]] = []
    for i, m in enumerate(msgs):
        if m["role"] == "system":
            if groups and any(msgs[g[0]]["role"] != "system" for g in groups):
                return repairs, Finding(
                    "not_alternating",
                    "system_in_middle",
                    i,
                    f"{_turn(i, 'system')} comes after the conversation started; a system prompt belongs first",
                )
            if not m["content"].strip():
                repairs["dropped_empty_system"] += 1
                log.append({"rule": "dropped_empty_system", "turns": [i]})
                continue
        elif not _visible(m["content"]).strip():
            return repairs, Finding(
                "empty_turn", "empty_turn", i, f"{_turn(i, m['role'])} is empty or white space"
            )
        if (
            groups
            and m["role"] in ("user", "assistant")
            and msgs[groups[-1][0]]["role"] == m["role"]
        ):
            groups[-1].append(i)
            repairs["merged_turns"] += 1
            log.append({"rule": "merged_turns", "turns": [groups[-1][0], i]})
        else:
            groups.append([i])
    body = [g for g in groups if msgs[g[0]]["role"] != "system"]
    while body and msgs[body[0][0]]["role"] != "user":
        if msgs[body[0][0]]["role"] == "tool":
            return repairs, Finding(
                "not_alternating",
                "starts_with_tool",
                body[0][0],
                f"{_turn(body[0][0], 'tool')} opens the conversation",
            )
        repairs["dropped_leading_assistant"] += 1
        log.append({"rule": "dropped_leading_assistant", "turns": body[0]})
        groups.remove(body.pop(0))
    if body and msgs[body[-1][0]]["role"] == "user" and len(body) > 1:
        repairs["dropped_trailing_user"] += 1
        log.append({"rule": "dropped_trailing_user", "turns": body[-1]})
        groups.remove(body.pop())
    roles = [msgs[g[0]]["role"] for g in body]
    if roles and set(roles) == {"user"}:
        return repairs, Finding(
            "no_response",
            "no_response",
            None,
            "an instruction with no response (an instruction-only record); "
            "generate responses first, or keep it out of clean",
        )
    if "user" not in roles or "assistant" not in roles:
        missing = "user" if "user" not in roles else "assistant"
        return repairs, Finding(
            "not_alternating",
            f"no_{missing}",
            None,
            f"no {missing} turn left after repairs (roles: {', '.join(m['role'] for m in msgs)})",
        )
    for prev, cur, g in zip(roles, roles[1:], body[1:]):
        if cur == "tool" and prev not in ("assistant", "tool"):
            return repairs, Finding(
                "not_alternating",
                "tool_without_call",
                g[0],
                f"{_turn(g[0], 'tool')} follows a {prev} turn, not a tool call",
            )
    if repairs:
        _apply_groups(rec, groups)
    return repairs, None


def is_truncated(text: str) -> str | None:
    """The rule that says ``text`` stops mid-way, or None: an unclosed code fence, or prose ending mid-sentence."""
    if len(_FENCE.findall(text)) % 2:
        return "unclosed_code_block"
    last = _visible(text).rstrip().rsplit("\n", 1)[-1].strip()
    tokens = last.split()
    if len(tokens) < 6 or last.startswith(("|", "#", "-", "*", ">")) or _LIST_ITEM.match(last):
        return None
    end, final = last[-1], tokens[-1]
    # A last word in lower case ("... and resets the start") is cut off; a capitalised one
    # ("by Stacy McAnulty", "#PuppyLove") usually ends a title, a signature or a list item,
    # and a worked result ("12*52=624 pages a year") ends a math answer.
    if end in ",;(" or final.lower() in _DANGLING:
        return "mid_sentence"
    if end.isalpha() and final[0].islower() and not _RESULT.search(last):
        return "mid_sentence"
    return None


def is_echo(instruction: str, response: str) -> bool:
    """True when the response only repeats the instruction: the same words, or most of it copied verbatim.

    Deliberately strict: rewriting, reformatting and grammar-fixing tasks give
    answers that share most words with the instruction and are not echoes.
    """
    r, i = normalize(response), normalize(instruction)
    if not r or not i:
        return False
    return r == i or (len(r) >= 0.8 * len(i) and r in i)


def check(rec: Record, bounds: Bounds) -> Finding | None:
    """Length bounds, truncation of the last answer and echoes, on a record whose alternation is repaired."""
    msgs = rec["messages"]
    total = sum(len(m["content"]) for m in msgs)
    if total > bounds.max_chars:
        return Finding(
            "too_long",
            "max_chars",
            None,
            f"{total:,} characters of text, above --max-chars {bounds.max_chars:,}",
        )
    last_user = ""
    for i, m in enumerate(msgs):
        if m["role"] == "user":
            last_user = m["content"]
        elif m["role"] == "assistant":
            n = len(m["content"].split())
            if n < bounds.min_response_words:
                return Finding(
                    "too_short",
                    "min_response_words",
                    i,
                    f"{_turn(i, 'assistant')} has {n} words, below --min-response-words {bounds.min_response_words}",
                )
            if bounds.check_echo and is_echo(last_user, m["content"]):
                return Finding(
                    "echo",
                    "repeats_instruction",
                    i,
                    f"{_turn(i, 'assistant')} only repeats the user turn before it",
                )
    if bounds.check_truncation:
        last_i = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
        if last_i is not None:
            rule = is_truncated(msgs[last_i]["content"])
            if rule:
                tail = msgs[last_i]["content"].rstrip()[-60:].replace("\n", " ")
                what = (
                    "an unclosed ``` code block"
                    if rule == "unclosed_code_block"
                    else "mid-sentence"
                )
                return Finding(
                    "truncated",
                    rule,
                    last_i,
                    f"{_turn(last_i, 'assistant')} ends {what}: …{tail!r}",
                )
    return None
