"""Alpaca: ``instruction`` / ``input`` / ``output``, optionally ``system`` and ``history``.

``history`` (LLaMA-Factory, LIMA exports) is a list of ``[user, assistant]``
pairs that come before the instruction.  The input is appended to the
instruction as the model sees it, and kept under ``meta["input"]`` so the row
can be split back on export.
"""

from __future__ import annotations

from typing import Any

import msgspec

from instructkit.errors import RowError
from instructkit.formats.base import (
    Format,
    Row,
    extras,
    join_input,
    list_field,
    make_record,
    pairs,
    split_input,
    text_field,
)
from instructkit.schema import Message, Record, content_ids

CONSUMED = ("instruction", "output", "system", "history")


def detect(row: Any) -> bool:
    return isinstance(row, dict) and "instruction" in row and ("output" in row or "input" in row)


def parse(row: Row, source: str) -> list[Record]:
    if not isinstance(row, dict):
        raise RowError("wrong_type", f"expected a JSON object, got {type(row).__name__}")
    instruction = text_field(row, "instruction")
    inp = text_field(row, "input", required=False)
    output = text_field(row, "output")
    messages: list[Message] = []
    system = text_field(row, "system", required=False)
    if system.strip():
        messages.append({"role": "system", "content": system})
    if row.get("history") is not None:
        for k, pair in enumerate(list_field(row, "history")):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
                raise RowError("wrong_type", f"history[{k}] is not a [user, assistant] pair of strings")
            messages.append({"role": "user", "content": pair[0]})
            messages.append({"role": "assistant", "content": pair[1]})
    messages.append({"role": "user", "content": join_input(instruction, inp)})
    messages.append({"role": "assistant", "content": output})
    meta_row = dict(row)
    meta_row.setdefault("input", "")
    return [make_record(meta_row, source, messages, CONSUMED)]


class _Plain(msgspec.Struct, forbid_unknown_fields=True):
    """The shape of nearly every Alpaca row: three strings and nothing else."""

    instruction: str
    input: str
    output: str


_decode_plain_lines = msgspec.json.Decoder(_Plain).decode_lines


def parse_block(data: bytes, source: str) -> list[Record] | None:
    """Decode a block of plain Alpaca lines in one msgspec call: the hot path of a 200k-row
    conversion.  Any other shape, an empty field or a bad line -> None, and every line of
    the block goes through :func:`parse` instead (which gives the reasoned rejects)."""
    try:
        rows = _decode_plain_lines(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return None
    if any(not r.instruction or r.instruction.isspace() or not r.output or r.output.isspace() for r in rows):
        return None
    users = [r.instruction if not r.input or r.input.isspace() else r.instruction + "\n\n" + r.input for r in rows]
    ids = content_ids([[("user", u), ("assistant", r.output)] for u, r in zip(users, rows)])
    return [
        {
            "id": rid,
            "source": source,
            "messages": [{"role": "user", "content": u}, {"role": "assistant", "content": r.output}],
            "meta": {"input": r.input},
        }
        for rid, u, r in zip(ids, users, rows)
    ]


def emit(record: Record) -> Row:
    system, history, last = pairs(record["messages"])
    user = last[0]["content"] if last and last[0]["role"] == "user" else ""
    output = next((m["content"] for m in last[1:] if m["role"] == "assistant"), "")
    meta = record["meta"]
    key = "input" if "input" in meta else "context"
    instruction, inp = split_input(user, meta, key)
    out: dict[str, Any] = {"instruction": instruction, "input": inp, "output": output}
    if system:
        out["system"] = system
    if history:
        out["history"] = history
    out.update(extras(record, CONSUMED + ("input", "context")))
    return out


FORMAT = Format("alpaca", detect, parse, emit, parse_block)
