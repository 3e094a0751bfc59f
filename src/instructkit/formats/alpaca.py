"""Alpaca: ``instruction`` / ``input`` / ``output``, optionally ``system`` and ``history``.

``history`` (LLaMA-Factory, LIMA exports) is a list of ``[user, assistant]``
pairs that come before the instruction.  The input is appended to the
instruction as the model sees it, and kept under ``meta["input"]`` so the row
can be split back on export.  A row with no or an empty ``output`` is an
instruction-only (user-only) record, written back the same way.
"""

from __future__ import annotations

from itertools import filterfalse, repeat
from operator import add, attrgetter, itemgetter, methodcaller, mul
from typing import Any

import msgspec
import xxhash

from instructkit.errors import RowError
from instructkit.formats.base import (
    INVISIBLE,
    EncodedRecords,
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
from instructkit.schema import ID_HEX, Message, Record

CONSUMED = ("instruction", "output", "system", "history")


def detect(row: Any) -> bool:
    return isinstance(row, dict) and "instruction" in row


def parse(row: Row, source: str) -> list[Record]:
    if not isinstance(row, dict):
        raise RowError("wrong_type", f"expected a JSON object, got {type(row).__name__}")
    instruction = text_field(row, "instruction")
    inp = text_field(row, "input", required=False)
    output, hints = response_field(row, "output")
    if hints and "input" not in row:
        hints["input"] = "absent"
    messages: list[Message] = history_messages(row)
    messages.append({"role": "user", "content": join_input(instruction, inp)})
    if output:  # "" or no field: an instruction-only record
        messages.append({"role": "assistant", "content": output})
    meta_row = dict(row)
    meta_row.setdefault("input", "")
    return [make_record(meta_row, source, messages, CONSUMED, hints or None)]


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
#: Every white-space and zero-width character: a text stripped of them and empty shows nothing.
_BLANKS = INVISIBLE + "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
_strip_blank = methodcaller("strip", _BLANKS)
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
        # zero-width-only turns: only a non-ASCII text can be one (isascii is a flag test)
        or not all(map(_strip_blank, filterfalse(str.isascii, instructions)))
        or not all(map(_strip_blank, filterfalse(str.isascii, outputs)))
    ):
        return None  # an empty, white-space or zero-width-only turn: the row path rejects it
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
    system, history, user, answer = exchanges(record["messages"], "alpaca")
    meta = record["meta"]
    key = "input" if "input" in meta else "context"
    instruction, inp = split_input(user, meta, key)
    out: dict[str, Any] = {"instruction": instruction, "input": inp, "output": answer or ""}
    if system:
        out["system"] = system
    if history:
        out["history"] = history
    hints = hints_of(record)
    restore_response(out, "output", hints)
    if hints.get("input") == "absent" and out["input"] == "":
        del out["input"]
    out.update(extras(record, CONSUMED + ("input", "context")))
    return out


FORMAT = Format("alpaca", detect, parse, emit, parse_block)
