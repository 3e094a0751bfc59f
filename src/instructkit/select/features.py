"""Per-record features for selection, computed in Arrow and NumPy without a Python object per record.

A pool of 100,000 records must be featurised in seconds once its embeddings
are cached, so the text each record is embedded by stays an Arrow string
array (hashed for the cache key straight from its buffer), and the metrics
``--by`` needs are read out of the ``scores`` map column in bulk.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from instructkit.dedup.fields import FIELDS
from instructkit.errors import InstructkitError
from instructkit.schema import instructions

#: A tokenizer-free token estimate: words and single punctuation marks.
TOKEN_PATTERN = r"\w+|[^\w\s]"


def _messages(table: pa.Table) -> pa.ListArray:
    msgs = table.column("messages").combine_chunks()
    if isinstance(msgs, pa.ChunkedArray):  # an empty table combines to a chunked array
        msgs = pa.concat_arrays(msgs.chunks) if msgs.num_chunks else pa.array([], msgs.type)
    return msgs


def embedding_texts(table: pa.Table, fields: str) -> pa.Array:
    """The text each record is embedded by, as an Arrow string array: all turns joined by
    newlines (as semantic dedup's ``record_texts`` joins them, so the cache is shared) or the
    instruction.  A record without messages has the empty text."""
    if fields == "instruction":
        return pa.array(instructions(table), pa.string())
    if fields != "all":
        raise InstructkitError(f"--fields must be one of {', '.join(FIELDS)}, not '{fields}'")
    msgs = _messages(table)
    contents = pa.ListArray.from_arrays(msgs.offsets, msgs.values.field("content"))
    return pc.fill_null(pc.binary_join(contents, "\n"), "")


def metric_columns(table: pa.Table, metrics: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named metrics of ``scores`` as float arrays over rows (NaN where absent), read
    from the map column's flat keys and values in bulk."""
    rows = table.num_rows
    out = {m: np.full(rows, np.nan) for m in metrics}
    col = table.column("scores").combine_chunks()
    if isinstance(col, pa.ChunkedArray) or not rows or not metrics:
        return out
    offsets = col.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    start, stop = int(offsets[0]), int(offsets[-1])
    owner = np.repeat(np.arange(rows), np.diff(offsets))
    keys = col.keys.slice(start, stop - start)
    values = col.items.slice(start, stop - start).to_numpy(zero_copy_only=False)
    for m in metrics:
        hit = pc.equal(keys, m).to_numpy(zero_copy_only=False)
        hit &= ~np.isnan(values)  # a null value is absent, as scores_frame reads it
        out[m][owner[hit]] = values[hit]
    return out


def token_counts(table: pa.Table) -> np.ndarray:
    """Tokens per record over all turns (:data:`TOKEN_PATTERN`), counted in Arrow without Python loops."""
    msgs = _messages(table)
    contents = pc.list_flatten(msgs).field("content")
    per_turn = pc.count_substring_regex(pc.fill_null(contents, ""), TOKEN_PATTERN).to_numpy(
        zero_copy_only=False
    )
    rows = pc.list_parent_indices(msgs).to_numpy(zero_copy_only=False)
    return np.bincount(rows, weights=per_turn, minlength=table.num_rows).astype(np.int64)
