"""What every format module provides, and the helpers they share.

A format knows three things: whether a raw row looks like it (``detect``), how to
turn a row into records (``parse``; one row may give several, as an OpenAssistant
tree does) and how to turn a record back into a row (``emit``).  Source fields
that the schema has no place for go to ``meta`` under their own names, and the
few hints needed to write the row back exactly (original role labels, extra keys
on turns) go to ``meta["_format"]``, so export is lossless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from instructkit.errors import RowError
from instructkit.schema import Message, Record, content_id

Row = dict[str, Any]

#: Where a source keeps its own record id, most specific first.
ID_FIELDS = ("id", "idx", "conversation_id", "uuid", "message_id", "key")

FORMAT_HINTS = "_format"


@dataclass(frozen=True, slots=True)
class EncodedRecords:
    """Records of a block fast path, already encoded as the JSON lines the record writer
    would write: a large plain conversion writes ``lines`` as they are, and everything
    else decodes them back into records."""

    ids: list[str]
    lines: bytes

    def __len__(self) -> int:
        return len(self.ids)

    def records(self) -> list[Record]:
        return _decode_lines(self.lines)  # type: ignore[no-any-return]


_decode_lines = msgspec.json.Decoder().decode_lines


@dataclass(frozen=True)
class Format:
    name: str
    detect: Callable[[Any], bool]
    parse: Callable[[Any, str], list[Record]]
    emit: Callable[[Record], Any] | None = None
    #: Optional: parse a whole block of JSON lines in one call (the hot path of large files),
    #: given the source name and the size limit in characters per record; returns None when
    #: any line is not of the simple shape or might be over the limit, and the lines go
    #: through ``parse`` instead.
    parse_block: Callable[[bytes, str, int], EncodedRecords | None] | None = None


def text_field(row: Row, key: str, *, required: bool = True, allow_empty: bool = True) -> str:
    """A string field, with the reject reason a user can act on when it is not one."""
    value = row.get(key)
    if type(value) is str and (allow_empty or value.strip()):
        return value
    if value is None:
        if required:
            raise RowError("missing_field", f"field '{key}' is missing (expected a string)")
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RowError("wrong_type", f"field '{key}' is {type(value).__name__}, expected a string")
    if not allow_empty and not value.strip():
        raise RowError("empty_turn", f"field '{key}' is empty")
    return value


def list_field(row: Row, key: str) -> list[Any]:
    """A list field; CSV and some Parquet exports store lists as JSON text, which is accepted too."""
    if key not in row or row[key] is None:
        raise RowError("missing_field", f"field '{key}' is missing (expected a list)")
    value = decode_embedded_json(row[key])
    if not isinstance(value, list):
        raise RowError("wrong_type", f"field '{key}' is {type(value).__name__}, expected a list")
    return value


def decode_embedded_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


_ID_SET = frozenset(ID_FIELDS)


def source_id(row: Row) -> str | None:
    if _ID_SET.isdisjoint(row):
        return None
    for key in ID_FIELDS:
        value = row.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) != "":
            return str(value)
    return None


def make_record(
    row: Row,
    source: str,
    messages: list[Message],
    consumed: tuple[str, ...],
    hints: dict[str, Any] | None = None,
    record_id: str | None = None,
) -> Record:
    """Assemble a record: validate turns, keep every unconsumed field in ``meta``."""
    if not messages:
        raise RowError("empty_conversation", "the conversation has no turns")
    for i, m in enumerate(messages):
        if not m["content"] or m["content"].isspace():
            if not (hints and _turn_has_payload(hints, i)):
                raise RowError("empty_turn", f"turn {i + 1} ({m['role']}) has no text")
    meta = {k: v for k, v in row.items() if k not in consumed}
    if hints:
        meta[FORMAT_HINTS] = hints
    rid = record_id or source_id(row) or content_id(messages)
    return {"id": rid, "source": source, "messages": messages, "meta": meta}


def _turn_has_payload(hints: dict[str, Any], i: int) -> bool:
    """A turn with no text is still valid when it carries a structured payload (OpenAI ``tool_calls``)."""
    extra = hints.get("turn_extra")
    return bool(extra and i < len(extra) and extra[i] and extra[i].get("tool_calls"))


def hints_of(record: Record) -> dict[str, Any]:
    return record["meta"].get(FORMAT_HINTS) or {}


def extras(record: Record, consumed: tuple[str, ...]) -> Row:
    """Meta fields to write back as top-level fields, minus the ones the writer maps itself."""
    return {k: v for k, v in record["meta"].items() if k not in consumed and k != FORMAT_HINTS}


def split_input(user_text: str, meta: dict[str, Any], key: str) -> tuple[str, str]:
    """Undo ``instruction + "\\n\\n" + input``; if the text changed since, it all becomes the instruction."""
    inp = meta.get(key)
    if isinstance(inp, str) and inp:
        suffix = "\n\n" + inp
        if user_text.endswith(suffix):
            return user_text[: -len(suffix)], inp
        return user_text, ""
    return user_text, "" if inp is None else inp


def join_input(instruction: str, inp: str) -> str:
    return f"{instruction}\n\n{inp}" if inp.strip() else instruction


def pairs(messages: list[Message]) -> tuple[str, list[list[str]], list[Message]]:
    """Split messages into (system, [[user, assistant], ...] history, last exchange) for Alpaca-like writers."""
    system = ""
    rest = list(messages)
    if rest and rest[0]["role"] == "system":
        system = rest.pop(0)["content"]
    last_user = max((i for i, m in enumerate(rest) if m["role"] == "user"), default=None)
    if last_user is None:
        return system, [], rest
    history: list[list[str]] = []
    head = rest[:last_user]
    for j in range(0, len(head) - 1, 2):
        history.append([head[j]["content"], head[j + 1]["content"]])
    return system, history, rest[last_user:]
