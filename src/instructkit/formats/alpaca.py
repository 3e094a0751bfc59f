"""Alpaca: ``instruction`` / ``input`` / ``output``, optionally ``system`` and ``history``.

``history`` (LLaMA-Factory, LIMA exports) is a list of ``[user, assistant]``
pairs that come before the instruction.  The input is appended to the
instruction as the model sees it, and kept under ``meta["input"]`` so the row
can be split back on export.
"""

from __future__ import annotations

from itertools import repeat
from operator import add, attrgetter, itemgetter, mul
from typing import Any

import msgspec
import xxhash

from instructkit.errors import RowError
from instructkit.formats.base import (
    EncodedRecords,
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
from instructkit.schema import ID_HEX, Message, Record

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
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)
            ):
                raise RowError(
                    "wrong_type", f"history[{k}] is not a [user, assistant] pair of strings"
                )
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


class _User(msgspec.Struct, tag_field="role", tag="user"):
    content: str


class _Assistant(msgspec.Struct, tag_field="role", tag="assistant"):
    content: str


class _Meta(msgspec.Struct):
    input: str


class _Record(msgspec.Struct):
    """Encodes exactly as the record writer encodes the record dict :func:`parse` builds."""

    id: str
    source: str
    messages: msgspec.Raw
    meta: _Meta


_decode_plain_lines = msgspec.json.Decoder(_Plain).decode_lines
_encoder = msgspec.json.Encoder()
_fields = (attrgetter("instruction"), attrgetter("input"), attrgetter("output"))
_id_of = itemgetter(slice(None, ID_HEX))


def parse_block(data: bytes, source: str, max_chars: int) -> EncodedRecords | None:
    """Decode a block of plain Alpaca lines in one msgspec call and encode their records:
    the hot path of a large conversion.  Any other shape, an empty field, a bad line or a
    row that may be over ``max_chars`` -> None, and every line of the block goes through
    :func:`parse` instead (which gives the reasoned rejects).

    Per-row work runs as ``map`` over C functions, not as a Python loop: at ~1 µs per
    interpreted step a loop would cost more than parsing the JSON.
    """
    try:
        rows = _decode_plain_lines(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return None
    instructions, inputs, outputs = (list(map(f, rows)) for f in _fields)
    if (
        not (all(instructions) and all(outputs))
        or any(map(str.isspace, instructions))
        or any(map(str.isspace, outputs))
    ):
        return None
    if (
        rows
        and max(map(len, instructions)) + max(map(len, inputs)) + 2 + max(map(len, outputs))
        > max_chars
    ):
        return None  # maybe too large: the row path measures each record
    # join_input without a loop: instruction + ("\n\n" + input) * (input is not blank)
    users = list(
        map(
            add,
            instructions,
            map(mul, map("\n\n".__add__, inputs), map(bool, map(str.strip, inputs))),
        )
    )
    messages = list(map(_encoder.encode, zip(map(_User, users), map(_Assistant, outputs))))
    ids = list(
        map(_id_of, map(xxhash.xxh3_128_hexdigest, messages))
    )  # = content_id, from the same bytes
    records = map(_Record, ids, repeat(source), map(msgspec.Raw, messages), map(_Meta, inputs))
    return EncodedRecords(ids, _encoder.encode_lines(list(records)))


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
