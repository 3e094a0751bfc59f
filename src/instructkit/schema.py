"""The record schema (see ``spec.md``) and the conversions every step shares.

A record is a plain dict with the spec's fields; a batch of records is a
``pyarrow.Table`` with :data:`RECORD_SCHEMA`.  ``meta`` is heterogeneous across
sources (Dolly has ``category``, ShareGPT ``tools``, ...), so inside Arrow and
Parquet it is carried as a JSON string; at the edges (JSONL, Python API) it is an
object.  ``scores`` is a string -> float map so that any step can add a metric
without a schema change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NotRequired, TypedDict

import msgspec
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

ROLES = ("system", "user", "assistant", "tool")


class Message(TypedDict):
    role: str
    content: str


class Lineage(TypedDict, total=False):
    parent: str
    round: int
    operation: str
    model: str
    #: How the record was made (``self_instruct``) and, for Self-Instruct, the tasks shown to the model.
    method: str
    in_context: list[str]


class Record(TypedDict):
    id: str
    source: str
    messages: list[Message]
    meta: dict[str, Any]
    scores: NotRequired[dict[str, float]]
    lineage: NotRequired[Lineage | None]


MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES_TYPE = pa.list_(MESSAGE_TYPE)
SCORES_TYPE = pa.map_(pa.string(), pa.float64())
LINEAGE_TYPE = pa.struct(
    [
        ("parent", pa.string()),
        ("round", pa.int32()),
        ("operation", pa.string()),
        ("model", pa.string()),
        ("method", pa.string()),
        ("in_context", pa.list_(pa.string())),
    ]
)
RECORD_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("messages", MESSAGES_TYPE),
        ("meta", pa.string()),
        ("scores", SCORES_TYPE),
        ("lineage", LINEAGE_TYPE),
    ]
)


_encoder = msgspec.json.Encoder()
_encode = _encoder.encode


#: Hex digits of a content id kept (96 bits).
ID_HEX = 24


def content_id(messages: Sequence[Message]) -> str:
    """A stable id for a record without one: a 128-bit hash of roles and texts.

    The hashed bytes are the compact JSON of the messages as ``[{"role": ...,
    "content": ...}, ...]``, exactly as the record writer encodes them, so a
    block fast path can hash the bytes it writes anyway.  xxh3 is not
    cryptographic, which is fine: ids must be stable and collision-free in
    practice, not tamper-proof.
    """
    canonical = [{"role": m["role"], "content": m["content"]} for m in messages]
    return xxhash.xxh3_128_hexdigest(_encode(canonical))[:ID_HEX]


def to_table(records: Sequence[Record]) -> pa.Table:
    """Records (dicts) -> an Arrow table with :data:`RECORD_SCHEMA`."""
    has_scores = any(r.get("scores") for r in records)
    has_lineage = any(r.get("lineage") for r in records)
    columns = [
        pa.array([r["id"] for r in records], pa.string()),
        pa.array([r["source"] for r in records], pa.string()),
        pa.array([r["messages"] for r in records], MESSAGES_TYPE),
        pa.array([orjson.dumps(r.get("meta") or {}).decode() for r in records], pa.string()),
        pa.array(
            [list((r.get("scores") or {}).items()) for r in records]
            if has_scores
            else [None] * len(records),
            SCORES_TYPE,
        ),
        pa.array(
            [r.get("lineage") for r in records] if has_lineage else [None] * len(records),
            LINEAGE_TYPE,
        ),
    ]
    return pa.Table.from_arrays(columns, schema=RECORD_SCHEMA)


def to_records(table: pa.Table) -> list[Record]:
    """An Arrow table -> records, with ``meta`` decoded and empty optionals omitted.

    Column-wise ``to_pylist`` is several times faster than ``Table.to_pylist``.
    """
    table = conform(table)
    ids = table.column("id").to_pylist()
    sources = table.column("source").to_pylist()
    messages = table.column("messages").to_pylist()
    metas = table.column("meta").to_pylist()
    scores = table.column("scores")
    score_list = scores.to_pylist() if scores.null_count < len(scores) else None
    lineage = table.column("lineage")
    lineage_list = lineage.to_pylist() if lineage.null_count < len(lineage) else None
    out: list[Record] = []
    for i in range(len(ids)):
        rec: Record = {
            "id": ids[i],
            "source": sources[i],
            "messages": messages[i],
            "meta": orjson.loads(metas[i]) if metas[i] else {},
        }
        if score_list is not None and score_list[i]:
            rec["scores"] = dict(score_list[i])
        if lineage_list is not None and lineage_list[i]:
            rec["lineage"] = {k: v for k, v in lineage_list[i].items() if v is not None}
        out.append(rec)
    return out


def conform(table: pa.Table) -> pa.Table:
    """Cast a table read from Parquet (possibly an older or partial schema) to :data:`RECORD_SCHEMA`."""
    if table.schema.equals(RECORD_SCHEMA):
        return table
    cols = []
    for field in RECORD_SCHEMA:
        if field.name in table.column_names:
            cols.append(table.column(field.name).cast(field.type))
        else:
            cols.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(cols, schema=RECORD_SCHEMA)


def empty_table() -> pa.Table:
    return RECORD_SCHEMA.empty_table()


def first_role_text(table: pa.Table, role: str, after_role: str | None = None) -> list[str]:
    """Text of the first message with ``role`` (after the first ``after_role`` one), "" when absent.

    This is how "the instruction" (first user turn) and "the response" (first
    assistant turn after it) are defined for every metric.
    """
    out: list[str] = []
    for msgs in table.column("messages").to_pylist():
        text = ""
        seen_after = after_role is None
        for m in msgs or ():
            if not seen_after:
                seen_after = m["role"] == after_role
                continue
            if m["role"] == role:
                text = m["content"]
                break
        out.append(text)
    return out


def instructions(table: pa.Table) -> list[str]:
    return first_role_text(table, "user")


def responses(table: pa.Table) -> list[str]:
    return first_role_text(table, "assistant", after_role="user")


def turn_texts(table: pa.Table) -> tuple[list[str], np.ndarray, list[str]]:
    """All turns flattened: (texts, owning row index per turn, role per turn), vectorised in Arrow."""
    msgs = table.column("messages").combine_chunks()
    flat = pc.list_flatten(msgs)
    rows = pc.list_parent_indices(msgs).to_numpy()
    return (
        flat.field("content").to_pylist(),
        rows,
        flat.field("role").to_pylist(),
    )


def with_scores(table: pa.Table, new: dict[str, Iterable[float | None]]) -> pa.Table:
    """Merge metric columns into ``scores``; a ``None``/NaN value leaves the metric absent for that row.

    Absent, not zero: a metric that could not be computed must not look like a
    real low score (the silent-fallback fault of some toolkits).
    """
    names = list(new)
    values = [list(v) for v in new.values()]
    old = table.column("scores").to_pylist()
    merged = []
    for i, prev in enumerate(old):
        d = dict(prev) if prev else {}
        for name, col in zip(names, values, strict=True):
            v = col[i]
            if v is None or (isinstance(v, float) and np.isnan(v)):
                d.pop(name, None)
            else:
                d[name] = float(v)
        merged.append(list(d.items()) if d else None)
    idx = table.schema.get_field_index("scores")
    return table.set_column(idx, "scores", pa.array(merged, SCORES_TYPE))


def scores_frame(table: pa.Table) -> dict[str, np.ndarray]:
    """Every metric in ``scores`` as a float array over rows (NaN where absent)."""
    rows = table.column("scores").to_pylist()
    names = sorted({k for r in rows if r for k, _ in r})
    out = {n: np.full(len(rows), np.nan) for n in names}
    for i, r in enumerate(rows):
        for k, v in r or ():
            out[k][i] = v
    return out
