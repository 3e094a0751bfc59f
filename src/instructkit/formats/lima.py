"""LIMA: ``conversations`` as a list of alternating user / assistant strings."""

from __future__ import annotations

from typing import Any

from instructkit.errors import RowError
from instructkit.formats.base import Format, Row, extras, list_field, make_record
from instructkit.schema import Record

CONSUMED = ("conversations",)


def detect(row: Any) -> bool:
    if not isinstance(row, dict) or not isinstance(row.get("conversations"), list):
        return False
    conv = row["conversations"]
    return bool(conv) and all(isinstance(t, str) for t in conv)


def parse(row: Row, source: str) -> list[Record]:
    if not isinstance(row, dict):
        raise RowError("wrong_type", f"expected a JSON object, got {type(row).__name__}")
    turns = list_field(row, "conversations")
    for i, t in enumerate(turns):
        if not isinstance(t, str):
            raise RowError(
                "wrong_type", f"conversations[{i}] is {type(t).__name__}, expected a string"
            )
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)
    ]
    return [make_record(row, source, messages, CONSUMED)]


def emit(record: Record) -> Row:
    turns = [m["content"] for m in record["messages"] if m["role"] in ("user", "assistant")]
    return {"conversations": turns, **extras(record, CONSUMED)}


FORMAT = Format("lima", detect, parse, emit)
