"""Gathering records and Arrow tables into the batches steps see.

Both read paths (row by row, and instructkit's own Parquet as Arrow) must cut
their input into the same batches, so a step writes the same row groups
whichever path read its input; :class:`Batcher` is that one rule.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from instructkit.formats.base import EncodedRecords
from instructkit.schema import SCORES_TYPE, Record, to_table

Batch = list[Record] | EncodedRecords


class Batcher:
    """Gathers records, and in table mode Arrow tables from the fast path, into the batches
    the row path has always made: a batch is complete once it holds ``size`` records or
    more after a row, so a step sees the same batches (and writes the same row groups)
    whichever path read its input."""

    def __init__(self, size: int, tables: bool) -> None:
        self.size = size
        self.tables = tables
        self.records: list[Record] = []
        #: Table mode: the earlier parts of the batch being gathered, and their row count.
        self.parts: list[pa.Table] = []
        self.rows = 0

    def add(self, records: list[Record]) -> Batch | pa.Table | None:
        self.records.extend(records)
        if self.rows + len(self.records) >= self.size:
            return self.take()
        return None

    def add_table(self, table: pa.Table) -> list[pa.Table]:
        """A checked fast-path table (one record per row), cut where the row path would cut."""
        if self.records:
            self.parts.append(to_table(self.records))
            self.rows += len(self.records)
            self.records = []
        out = []
        start = 0
        while start < table.num_rows:
            piece = table.slice(start, self.size - self.rows)
            self.parts.append(piece)
            self.rows += piece.num_rows
            start += piece.num_rows
            if self.rows >= self.size:
                out.append(self.take())
        return out

    def take(self) -> Batch | pa.Table | None:
        """The batch gathered so far (None when empty), and a fresh start."""
        records, parts = self.records, self.parts
        self.records, self.parts, self.rows = [], [], 0
        if not self.tables:
            return records or None
        if not parts:
            return to_table(records) if records else None
        if records:
            parts.append(to_table(records))
        return _joined(parts)


def _joined(parts: list[pa.Table]) -> pa.Table:
    """Parts of one batch as the one table :func:`to_table` would make of all its records.

    Only ``scores`` needs care: ``to_table`` gives every record without scores an empty
    map when any record of the batch has some, and all nulls otherwise."""
    table = pa.concat_tables(parts).combine_chunks()
    col = entries(table.column("scores").combine_chunks())
    lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy()
    if not lengths.any():
        scores = pa.nulls(len(col), SCORES_TYPE)
    else:
        flat = col.flatten()
        offsets = np.zeros(len(lengths) + 1, np.int32)
        np.cumsum(lengths, out=offsets[1:])
        scores = pa.MapArray.from_arrays(
            pa.array(offsets), flat.field("key"), flat.field("value"), type=SCORES_TYPE
        )
    return table.set_column(table.schema.get_field_index("scores"), "scores", scores)


ENTRIES = pa.list_(pa.struct([("key", pa.string()), ("value", pa.float64())]))


def entries(scores: pa.Array) -> pa.ListArray:
    """A ``scores`` map as a list of key/value structs: the list kernels take no maps."""
    return scores.cast(ENTRIES)
