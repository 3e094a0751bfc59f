"""Dolly: ``instruction`` / ``context`` / ``response`` / ``category``."""

from __future__ import annotations

from typing import Any

from instructkit.errors import RowError
from instructkit.formats.base import (
    Format,
    Row,
    extras,
    join_input,
    make_record,
    pairs,
    split_input,
    text_field,
)
from instructkit.schema import Record

CONSUMED = ("instruction", "response")


def detect(row: Any) -> bool:
    return isinstance(row, dict) and "instruction" in row and "response" in row


def parse(row: Row, source: str) -> list[Record]:
    if not isinstance(row, dict):
        raise RowError("wrong_type", f"expected a JSON object, got {type(row).__name__}")
    instruction = text_field(row, "instruction")
    context = text_field(row, "context", required=False)
    response = text_field(row, "response")
    messages = [
        {"role": "user", "content": join_input(instruction, context)},
        {"role": "assistant", "content": response},
    ]
    meta_row = dict(row)
    meta_row.setdefault("context", "")
    return [make_record(meta_row, source, messages, CONSUMED)]


def emit(record: Record) -> Row:
    _, _, last = pairs(record["messages"])
    user = last[0]["content"] if last and last[0]["role"] == "user" else ""
    response = next((m["content"] for m in last[1:] if m["role"] == "assistant"), "")
    meta = record["meta"]
    key = "context" if "context" in meta else "input"
    instruction, context = split_input(user, meta, key)
    out: dict[str, Any] = {"instruction": instruction, "context": context, "response": response}
    out["category"] = meta.get("category", "")
    out.update(extras(record, CONSUMED + ("context", "input", "category")))
    return out


FORMAT = Format("dolly", detect, parse, emit)
