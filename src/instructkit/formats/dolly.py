"""Dolly: ``instruction`` / ``context`` / ``response`` / ``category``.

A multi-turn record is written with Alpaca's ``system`` and ``history`` fields
(and read back from them), so ``--to dolly`` drops no turn; a row with no or an
empty ``response`` is an instruction-only record.
"""

from __future__ import annotations

from typing import Any

from instructkit.errors import RowError
from instructkit.formats.base import (
    Format,
    Row,
    exchanges,
    extras,
    hints_of,
    history_messages,
    join_input,
    make_record,
    response_field,
    restore_response,
    split_input,
    text_field,
)
from instructkit.schema import Record

CONSUMED = ("instruction", "response", "system", "history")


def detect(row: Any) -> bool:
    return (
        isinstance(row, dict) and "instruction" in row and ("response" in row or "context" in row)
    )


def parse(row: Row, source: str) -> list[Record]:
    if not isinstance(row, dict):
        raise RowError("wrong_type", f"expected a JSON object, got {type(row).__name__}")
    instruction = text_field(row, "instruction")
    context = text_field(row, "context", required=False)
    response, hints = response_field(row, "response")
    messages = history_messages(row)
    messages.append({"role": "user", "content": join_input(instruction, context)})
    if response:  # "" or no field: an instruction-only record
        messages.append({"role": "assistant", "content": response})
    meta_row = dict(row)
    meta_row.setdefault("context", "")
    return [make_record(meta_row, source, messages, CONSUMED, hints or None)]


def emit(record: Record) -> Row:
    system, history, user, answer = exchanges(record["messages"], "dolly")
    meta = record["meta"]
    key = "context" if "context" in meta else "input"
    instruction, context = split_input(user, meta, key)
    out: dict[str, Any] = {"instruction": instruction, "context": context, "response": answer or ""}
    out["category"] = meta.get("category", "")
    if system:
        out["system"] = system
    if history:
        out["history"] = history
    restore_response(out, "response", hints_of(record))
    out.update(extras(record, CONSUMED + ("context", "input", "category")))
    return out


FORMAT = Format("dolly", detect, parse, emit)
