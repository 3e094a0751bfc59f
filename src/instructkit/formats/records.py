"""instructkit's own record files (JSONL or Parquet), read back for the next step."""

from __future__ import annotations

from typing import Any

import orjson

from instructkit.errors import RowError
from instructkit.formats import openai
from instructkit.formats.base import Format, Row
from instructkit.schema import Record


def detect(row: Any) -> bool:
    return isinstance(row, dict) and {"id", "source", "messages", "meta"} <= row.keys()


def parse(row: Row, source: str) -> list[Record]:
    if not isinstance(row, dict):
        raise RowError("wrong_type", f"expected a JSON object, got {type(row).__name__}")
    meta = row.get("meta") or {}
    if isinstance(meta, str):  # Parquet carries meta as JSON text
        try:
            meta = orjson.loads(meta)
        except orjson.JSONDecodeError as e:
            raise RowError("invalid_json", f"field 'meta' is not valid JSON: {e}") from None
    if not isinstance(meta, dict):
        raise RowError("wrong_type", f"field 'meta' is {type(meta).__name__}, expected an object")
    (rec,) = openai.parse({"messages": row["messages"]}, source)
    for i in range(len(rec["messages"])):
        if not isinstance(row["messages"][i].get("content"), str):
            raise RowError("wrong_type", f"messages[{i}].content must be text in a record file")
    out: Record = {
        "id": str(row["id"]),
        "source": str(row["source"] or source),
        "messages": rec["messages"],
        "meta": meta,
    }
    scores = row.get("scores")
    if scores:
        out["scores"] = dict(scores) if isinstance(scores, dict) else {k: v for k, v in scores}
    if row.get("lineage"):
        out["lineage"] = row["lineage"]
    return [out]


def emit(record: Record) -> Row:
    return dict(record)


FORMAT = Format("records", detect, parse, emit)
