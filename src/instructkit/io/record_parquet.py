"""instructkit's own Parquet read as Arrow: the fast path of :func:`instructkit.io.read.read_tables`.

Every step writes ``data.parquet`` in the record schema, and the next step would
otherwise turn each row into a dict, parse and validate it and build Arrow again.
:func:`checked_table` makes the ``records`` parser's checks column-wise instead;
a batch that fails any of them is left to the row path, so rejects are the row
path's own.
"""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from instructkit.formats.base import is_blank
from instructkit.io import batching
from instructkit.io.sources import Source
from instructkit.schema import RECORD_SCHEMA, ROLES


def in_record_layout(source: Source, fmt_name: str) -> bool:
    """A plain Parquet file with instructkit's own record schema, read as records (auto-detection
    would pick ``records`` for its first row too)."""
    if source.kind != "parquet" or source.compression is not None:
        return False
    if fmt_name not in ("auto", "records"):
        return False
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(source.location)
        schema = pq.read_schema(source.location)
    except (
        Exception
    ):  # pyarrow raises several types; the row path reports the file as it always has
        return False
    return meta.num_rows > 0 and schema.equals(RECORD_SCHEMA)


_ROLES = pa.array(ROLES)
#: A printable ASCII character: neither white space nor invisible, so its text is not blank.
_VISIBLE = "[!-~]"


def checked_table(batch: pa.RecordBatch, source: str, max_chars: int) -> pa.Table | None:
    """A record-schema batch as the table the ``records`` parser and :func:`to_table` would give,
    or None when any row might be rejected or changed by them (the row path then decides).

    The checks, column-wise: valid UTF-8; ids present; at least one turn per record, each
    a non-null turn with a role of :data:`ROLES` (aliases are renamed by the parser) and
    non-blank text; texts within ``max_chars`` per record; ``meta`` a JSON object (re-encoded
    as the parser and writer do); no repeated key in a ``scores`` map."""
    try:
        batch.validate(full=True)
    except pa.ArrowInvalid:
        return None
    n = batch.num_rows
    ids, messages = batch.column("id"), batch.column("messages")
    if ids.null_count or messages.null_count:
        return None
    lengths = pc.list_value_length(messages).to_numpy()
    if n and lengths.min() < 1:
        return None
    turns = pc.list_flatten(messages)
    roles, texts = turns.field("role"), turns.field("content")
    if turns.null_count or roles.null_count or texts.null_count:
        return None
    if not pc.all(pc.is_in(roles, value_set=_ROLES)).as_py():
        return None
    unsure = texts.filter(pc.invert(pc.match_substring_regex(texts, _VISIBLE)))
    if any(is_blank(t) for t in unsure.to_pylist()):
        return None
    chars = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(pc.utf8_length(texts).to_numpy(), out=chars[1:])
    ends = np.cumsum(lengths)
    if n and (chars[ends] - chars[ends - lengths]).max() > max_chars:
        return None
    meta = _meta(batch.column("meta").to_pylist())
    if meta is None:
        return None
    scores = batch.column("scores")
    entries = batching.entries(scores)
    if len(keys := entries.flatten()):  # (row, key) pairs as numbers: a repeat shows in np.unique
        codes = pc.dictionary_encode(keys.field("key")).indices.to_numpy().astype(np.int64)
        rows = pc.list_parent_indices(entries).to_numpy().astype(np.int64)
        if len(np.unique(rows * (codes.max() + 1) + codes)) != len(codes):
            return None
    names = batch.column("source")
    if names.null_count or not pc.all(pc.not_equal(names, "")).as_py():
        empty = pc.fill_null(pc.equal(names, ""), True)
        names = pc.if_else(empty, pa.scalar(source), names)
    return pa.Table.from_arrays(
        [ids, names, messages, meta, scores, batch.column("lineage")], schema=RECORD_SCHEMA
    )


def _meta(values: list[str | None]) -> pa.Array | None:
    """``meta`` texts re-encoded as the row path does (decode, then ``to_table``'s encode;
    empty -> ``{}``), or None when one is not a JSON object."""
    out = []
    loads, dumps = orjson.loads, orjson.dumps
    for text in values:
        if not text or text == "{}":
            out.append("{}")
            continue
        try:
            value = loads(text)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(value, dict):
            return None
        out.append(dumps(value).decode())
    return pa.array(out, pa.string())
