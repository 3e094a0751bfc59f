"""Which text of a record dedup compares: ``all`` turns (instruction + response, the default) or the ``instruction``."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from instructkit.errors import InstructkitError
from instructkit.schema import instructions

Fields = Literal["all", "instruction"]
FIELDS: tuple[str, ...] = ("all", "instruction")


def record_texts(table: pa.Table, fields: str) -> list[str]:
    """One text per record: every message's content joined by newlines, or the first user turn."""
    if fields == "instruction":
        return instructions(table)
    if fields != "all":
        raise InstructkitError(f"--fields must be one of {', '.join(FIELDS)}, not '{fields}'")
    msgs = table.column("messages").combine_chunks()
    if isinstance(msgs, pa.ChunkedArray):  # an empty table combines to a chunked array
        msgs = pa.concat_arrays(msgs.chunks) if msgs.num_chunks else pa.array([], msgs.type)
    contents = pa.ListArray.from_arrays(msgs.offsets, msgs.values.field("content"))
    joined = pc.binary_join(contents, "\n")
    return [t or "" for t in joined.to_pylist()]
