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
#: Characters that show nothing: a turn made only of these (and white space) is empty.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_DROP_INVISIBLE = str.maketrans("", "", INVISIBLE)


def is_blank(text: str) -> bool:
    """No visible text: empty, white space, or zero-width characters only."""
    return not text or text.isspace() or not text.translate(_DROP_INVISIBLE).strip()


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
        if is_blank(m["content"]):
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


def history_messages(row: Row) -> list[Message]:
    """The ``system`` and ``history`` ([[user, assistant], ...]) fields of Alpaca-like rows, as turns."""
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
    return messages


def response_field(row: Row, key: str) -> tuple[str, dict[str, Any]]:
    """An Alpaca-like row's response, "" when it has none (an instruction-only row), and the
    hint that lets export write the row back the same way (the field absent, or null)."""
    if key not in row:
        hints: dict[str, Any] = {"response": "absent"}
    elif row[key] is None:
        hints = {"response": "null"}
    else:
        return text_field(row, key), {}
    return "", hints


def restore_response(out: Row, key: str, hints: dict[str, Any]) -> None:
    """Undo :func:`response_field` on export: drop the field, or write null, as the source had it."""
    if out.get(key) == "" and hints.get("response") == "absent":
        del out[key]
    elif out.get(key) == "" and hints.get("response") == "null":
        out[key] = None


def exchanges(messages: list[Message], fmt: str) -> tuple[str, list[list[str]], str, str | None]:
    """(system, [[user, assistant], ...] history, last user turn, its answer or None) for the
    Alpaca-like writers, which hold exactly that shape.  Any other record (a tool turn, two
    user turns in a row) cannot be written without loss: a ``lossy_export`` reject."""
    rest = list(messages)
    system = rest.pop(0)["content"] if rest and rest[0]["role"] == "system" else ""
    roles = [m["role"] for m in rest]
    expected = ["user", "assistant"] * (len(rest) // 2) + ["user"] * (len(rest) % 2)
    if not rest or roles != expected:
        raise RowError(
            "lossy_export",
            f"{fmt} holds a system prompt and user/assistant pairs, not turns "
            f"{'/'.join(m['role'] for m in messages)}; write it with --to sharegpt or openai",
        )
    cut = len(rest) - 2 + len(rest) % 2  # where the last exchange starts
    history = [[rest[j]["content"], rest[j + 1]["content"]] for j in range(0, cut, 2)]
    answer = rest[cut + 1]["content"] if len(rest) % 2 == 0 else None
    return system, history, rest[cut]["content"], answer
