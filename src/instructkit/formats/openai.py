"""OpenAI chat ``messages``: ``{role, content}`` with content as a string or a list of parts.

Parts are ``{"type": "text", "text": ...}`` in the OpenAI API and ``{"type":
"text", "value": ...}`` in some re-exports; their texts are joined with a blank
line.  The original part list is kept in the turn's hints and written back
as long as the text was not changed by a later step.  Extra keys on a message
(``tool_calls``, ``name``, ``tool_call_id``, ``weight``) are kept the same way.
"""

from __future__ import annotations

from typing import Any

from instructkit.errors import RowError
from instructkit.formats.base import Format, Row, extras, hints_of, list_field, make_record
from instructkit.schema import ROLES, Message, Record

CONSUMED = ("messages",)
ROLE_ALIASES = {"developer": "system", "function": "tool", "human": "user", "model": "assistant"}


def detect(row: Any) -> bool:
    return isinstance(row, dict) and isinstance(row.get("messages"), (list, str))


def _part_text(part: Any, where: str) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict):
        for key in ("text", "value", "content"):
            if isinstance(part.get(key), str):
                return part[key]
        if part.get("type") not in (None, "text"):
            return ""  # images, audio: no text to learn from, but not an error
    raise RowError("wrong_type", f"{where} is not a text part")


def parse(row: Row, source: str) -> list[Record]:
    if not isinstance(row, dict):
        raise RowError("wrong_type", f"expected a JSON object, got {type(row).__name__}")
    messages: list[Message] = []
    turn_extra: list[dict[str, Any] | None] = []
    for i, msg in enumerate(list_field(row, "messages")):
        if not isinstance(msg, dict):
            raise RowError(
                "wrong_type", f"messages[{i}] is {type(msg).__name__}, expected an object"
            )
        label = msg.get("role")
        if not isinstance(label, str):
            raise RowError("missing_field", f"messages[{i}] has no 'role'")
        role = ROLE_ALIASES.get(label, label)
        if role not in ROLES:
            raise RowError(
                "unknown_role", f"messages[{i}] has role '{label}', expected one of {list(ROLES)}"
            )
        content = msg.get("content")
        extra = {k: v for k, v in msg.items() if k not in ("role", "content")}
        if role != label:
            extra["_role"] = label
        if content is None:
            text = ""
            extra["_null"] = True
        elif isinstance(content, str):
            text = content
        elif isinstance(content, list):
            text = "\n\n".join(
                _part_text(p, f"messages[{i}].content[{j}]") for j, p in enumerate(content)
            )
            extra["_parts"] = content
        else:
            raise RowError(
                "wrong_type", f"messages[{i}].content is {type(content).__name__}, expected text"
            )
        messages.append({"role": role, "content": text})
        turn_extra.append(extra or None)
    hints = {"turn_extra": turn_extra} if any(turn_extra) else None
    return [make_record(row, source, messages, CONSUMED, hints)]


def emit_messages(record: Record) -> list[dict[str, Any]]:
    messages = record["messages"]
    turn_extra = hints_of(record).get("turn_extra")
    if not turn_extra or len(turn_extra) != len(messages):
        turn_extra = [None] * len(messages)
    out = []
    for m, extra in zip(messages, turn_extra):
        extra = dict(extra or {})
        role = extra.pop("_role", m["role"])
        parts = extra.pop("_parts", None)
        null = extra.pop("_null", False)
        extra = {k: v for k, v in extra.items() if not k.startswith("_")}  # other formats' hints
        content: Any = m["content"]
        if parts is not None:
            joined = "\n\n".join(_part_text(p, "part") for p in parts)
            content = parts if joined == m["content"] else m["content"]
        elif null and not m["content"]:
            content = None
        out.append({"role": role, "content": content, **extra})
    return out


def emit(record: Record) -> Row:
    return {"messages": emit_messages(record), **extras(record, CONSUMED)}


FORMAT = Format("openai", detect, parse, emit)
