"""Per-record features for selection that come from the text: what is embedded, and its token count."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from instructkit.dedup.fields import record_texts

#: A tokenizer-free token estimate: words and single punctuation marks.
TOKEN_PATTERN = r"\w+|[^\w\s]"


def embedding_texts(table: pa.Table, fields: str) -> list[str]:
    """The text each record is embedded by: all turns (as semantic dedup does, so the cache is shared) or the instruction."""
    return record_texts(table, fields)


def token_counts(table: pa.Table) -> np.ndarray:
    """Tokens per record over all turns (:data:`TOKEN_PATTERN`), counted in Arrow without Python loops."""
    msgs = table.column("messages").combine_chunks()
    if isinstance(msgs, pa.ChunkedArray):
        msgs = pa.concat_arrays(msgs.chunks) if msgs.num_chunks else pa.array([], msgs.type)
    contents = pc.list_flatten(msgs).field("content")
    per_turn = pc.count_substring_regex(pc.fill_null(contents, ""), TOKEN_PATTERN).to_numpy(
        zero_copy_only=False
    )
    rows = pc.list_parent_indices(msgs).to_numpy(zero_copy_only=False)
    return np.bincount(rows, weights=per_turn, minlength=table.num_rows).astype(np.int64)
