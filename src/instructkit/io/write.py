"""Write record tables as records (JSONL / JSON / Parquet) or as another format (``--to``).

The file type comes from OUTPUT's extension.  Every writer writes to a
temporary file and renames it into place on ``close()``, so an interrupted run
never leaves a half-written output that looks complete.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from instructkit import formats
from instructkit.accounting import Reject, open_temp
from instructkit.errors import InstructkitError, RowError
from instructkit.formats.base import EncodedRecords
from instructkit.io.sources import split_suffixes
from instructkit.schema import RECORD_SCHEMA, Record, conform, to_records, to_table

#: msgspec encodes 3-4x faster than orjson on this project's CPUs (benchmarks/bench_convert.py);
#: numpy scalars that a step may leave in meta are turned into Python numbers.
_ENCODER = msgspec.json.Encoder(enc_hook=lambda o: o.item() if hasattr(o, "item") else str(o))


class RecordWriter:
    """Streams tables to ``path``; ``to`` names a format to convert each record to (None: records).

    A record the target format cannot hold without loss (a tool turn in Alpaca) is not
    written: it goes to ``on_reject`` (reason ``lossy_export``), so nothing disappears.
    """

    def __init__(
        self, path: Path, to: str | None = None, on_reject: Callable[[Reject], None] | None = None
    ) -> None:
        self.path = path
        self.kind, self.compression, _ = split_suffixes(path)
        if self.kind not in (".jsonl", ".json", ".parquet"):
            raise InstructkitError(
                f"{path}: output must end in .jsonl, .json or .parquet (optionally .gz/.zst for JSON)"
            )
        if self.kind == ".parquet" and self.compression:
            raise InstructkitError(
                f"{path}: Parquet is compressed internally; drop the {self.compression}"
            )
        self.emit = formats.writer(to).emit if to and to != "records" else None
        self.on_reject = on_reject
        self.tmp = path
        self.count = 0
        self._fh: IO[bytes] | None = None
        self._raw: IO[bytes] | None = None
        self._pq: pq.ParquetWriter | None = None
        self._pq_schema: pa.Schema | None = None
        if self.kind != ".parquet":
            self.tmp, self._raw = open_temp(path)
            self._fh = _compressed(self._raw, self.compression)
            if self.kind == ".json":
                self._fh.write(b"[")

    def write(self, batch: pa.Table | list[Record] | EncodedRecords) -> int:
        """Write a table, a list of records or encoded records; returns the number of rows written."""
        n = batch.num_rows if isinstance(batch, pa.Table) else len(batch)
        if n == 0:
            return 0
        if isinstance(batch, EncodedRecords):
            if (
                self.kind == ".jsonl" and self.emit is None
            ):  # already the lines this writer would write
                assert self._fh is not None
                self._fh.write(batch.lines)
                self.count += n
                return n
            batch = batch.records()
        if self.kind == ".parquet" and self.emit is None:
            self._write_parquet(conform(batch if isinstance(batch, pa.Table) else to_table(batch)))
            self.count += n
            return n
        rows = self._rows(batch)
        if not rows:
            return 0
        if self.kind == ".parquet":
            self._write_parquet(pa.Table.from_pylist(rows))
        else:
            assert self._fh is not None
            if self.kind == ".jsonl":
                self._fh.write(_ENCODER.encode_lines(rows))
            else:
                lead = b",\n" if self.count else b"\n"
                self._fh.write(lead + b",\n".join([_ENCODER.encode(r) for r in rows]))
        self.count += len(rows)
        return len(rows)

    def _rows(self, batch: pa.Table | list[Record]) -> list[Any]:
        records = to_records(batch) if isinstance(batch, pa.Table) else batch
        if self.emit is None:
            return records
        rows = []
        for rec in records:
            try:
                rows.append(self.emit(rec))
            except RowError as e:
                if self.on_reject is None:
                    raise InstructkitError(f"record {rec['id']}: {e.detail}") from None
                self.on_reject(
                    Reject("write", e.reason, f"record {rec['id']}: {e.detail}", record=rec)
                )
        return rows

    def _write_parquet(self, out: pa.Table) -> None:
        if self.emit is not None and self._pq_schema is not None:
            try:
                out = out.select(self._pq_schema.names).cast(self._pq_schema)
            except (pa.ArrowInvalid, KeyError, pa.ArrowNotImplementedError) as e:
                raise InstructkitError(
                    f"{self.path}: rows do not share one Parquet schema ({e}); write .jsonl instead"
                ) from None
        if self._pq is None:
            self._pq_schema = out.schema
            self.tmp, fh = open_temp(self.path)
            fh.close()
            self._pq = pq.ParquetWriter(self.tmp, out.schema, compression="zstd")
        self._pq.write_table(out)

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self.kind == ".parquet":
            if self._pq is None:  # no rows: still write a valid, empty file
                schema = RECORD_SCHEMA if self.emit is None else pa.schema([])
                self.tmp, fh = open_temp(self.path)
                fh.close()
                self._pq = pq.ParquetWriter(self.tmp, schema)
            self._pq.close()
        else:
            assert self._fh is not None and self._raw is not None
            if self.kind == ".json":
                self._fh.write(b"\n]\n" if self.count else b"]\n")
            self._fh.close()
            if self._fh is not self._raw:
                self._raw.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        for fh in (self._fh, self._raw):
            if fh is not None and not fh.closed:
                fh.close()
        if self._pq is not None:
            self._pq.close()
        if self.tmp != self.path:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _compressed(fh: IO[bytes], compression: str | None) -> IO[bytes]:
    if compression == ".gz":
        return gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=6)  # type: ignore[return-value]
    if compression == ".zst":
        import zstandard

        return zstandard.ZstdCompressor().stream_writer(fh, closefd=False)  # type: ignore[return-value]
    return io.BufferedWriter(fh) if not isinstance(fh, io.BufferedWriter) else fh
