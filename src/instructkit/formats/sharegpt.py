"""ShareGPT: ``conversations`` as a list of ``{from, value}`` turns.

Real exports use many role labels (``human``/``gpt`` in the original crawl,
``chatgpt``/``bing``/``bard`` for other assistants, ``function_call`` and
``observation`` for tool use in LLaMA-Factory, ``role``/``content`` keys in some
re-exports).  They are mapped to the four schema roles; the original labels are
kept in ``meta["_format"]["roles"]`` when they differ from the defaults, so the
file writes back unchanged.  Preference data (``chosen``/``rejected``) and tool
definitions (``tools``) stay in ``meta``.
"""

from __future__ import annotations

from typing import Any

from instructkit.errors import RowError
from instructkit.formats.base import (
    FORMAT_HINTS,
    Format,
    Row,
    extras,
    hints_of,
    list_field,
    make_record,
)
from instructkit.schema import Message, Record

ROLE_ALIASES = {
    "human": "user",
    "user": "user",
    "prompter": "user",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "function_call": "assistant",
    "system": "system",
    "observation": "tool",
    "tool": "tool",
    "function": "tool",
}
DEFAULT_LABELS = {"user": "human", "assistant": "gpt", "system": "system", "tool": "observation"}
CONSUMED = ("conversations",)


def detect(row: Any) -> bool:
    if not isinstance(row, dict) or "conversations" not in row:
        return False
    conv = row["conversations"]
    return isinstance(conv, list) and (not conv or isinstance(conv[0], dict))


def parse_turns(
    turns: list[Any], field: str
) -> tuple[list[Message], list[str], list[dict[str, Any] | None]]:
    """Turns -> messages, original labels, and any extra keys per turn (kept for export)."""
    messages: list[Message] = []
    labels: list[str] = []
    turn_extra: list[dict[str, Any] | None] = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RowError(
                "wrong_type", f"{field}[{i}] is {type(turn).__name__}, expected an object"
            )
        role_key = "from" if "from" in turn else "role"
        text_key = "value" if "value" in turn else "content"
        label = turn.get(role_key)
        if not isinstance(label, str):
            raise RowError("missing_field", f"{field}[{i}] has no '{role_key}' role label")
        role = ROLE_ALIASES.get(label.strip().lower())
        if role is None:
            raise RowError(
                "unknown_role",
                f"{field}[{i}] has role '{label}', not one of {sorted(ROLE_ALIASES)}",
            )
        text = turn.get(text_key)
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise RowError(
                "wrong_type", f"{field}[{i}].{text_key} is {type(text).__name__}, expected a string"
            )
        messages.append({"role": role, "content": text})
        labels.append(label)
        rest = {k: v for k, v in turn.items() if k not in (role_key, text_key)}
        if role_key != "from" or text_key != "value":
            rest["_keys"] = [role_key, text_key]
        turn_extra.append(rest or None)
    return messages, labels, turn_extra


def parse(row: Row, source: str) -> list[Record]:
    if not isinstance(row, dict):
        raise RowError("wrong_type", f"expected a JSON object, got {type(row).__name__}")
    turns = list_field(row, "conversations")
    messages, labels, turn_extra = parse_turns(turns, "conversations")
    hints: dict[str, Any] = {}
    if any(label != DEFAULT_LABELS[m["role"]] for label, m in zip(labels, messages)):
        hints["roles"] = labels
    if any(turn_extra):
        hints["turn_extra"] = turn_extra
    return [make_record(row, source, messages, CONSUMED, hints or None)]


def emit_turns(record: Record) -> list[dict[str, Any]]:
    hints = hints_of(record)
    messages = record["messages"]
    labels = hints.get("roles")
    if not labels or len(labels) != len(messages):
        labels = [DEFAULT_LABELS[m["role"]] for m in messages]
    turn_extra = hints.get("turn_extra")
    if not turn_extra or len(turn_extra) != len(messages):
        turn_extra = [None] * len(messages)
    turns = []
    for m, label, extra in zip(messages, labels, turn_extra):
        extra = dict(extra or {})
        role_key, text_key = extra.pop("_keys", ("from", "value"))
        extra = {k: v for k, v in extra.items() if not k.startswith("_")}  # other formats' hints
        turns.append({role_key: label, text_key: m["content"], **extra})
    return turns


def emit(record: Record) -> Row:
    out: dict[str, Any] = {}
    meta = record["meta"]
    if "id" in meta:
        out["id"] = meta["id"]
    out["conversations"] = emit_turns(record)
    out.update(extras(record, CONSUMED + ("id", FORMAT_HINTS)))
    return out


FORMAT = Format("sharegpt", detect, parse, emit)
