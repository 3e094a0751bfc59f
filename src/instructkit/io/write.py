"""Write record tables as records (JSONL / JSON / Parquet) or as another format (``--to``).

The file type comes from OUTPUT's extension.  Every writer writes to a
temporary file and renames it into place on ``close()``, so an interrupted run
never leaves a half-written output that looks complete.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from typing import IO, Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from instructkit import formats
from instructkit.accounting import temp_path
from instructkit.errors import InstructkitError
from instructkit.formats.base import EncodedRecords
from instructkit.io.sources import split_suffixes
from instructkit.schema import RECORD_SCHEMA, Record, conform, to_records, to_table

#: msgspec encodes 3-4x faster than orjson on this project's CPUs (benchmarks/bench_convert.py);
#: numpy scalars that a step may leave in meta are turned into Python numbers.
_ENCODER = msgspec.json.Encoder(enc_hook=lambda o: o.item() if hasattr(o, "item") else str(o))


class RecordWriter:
    """Streams tables to ``path``; ``to`` names a format to convert each record to (None: records)."""

    def __init__(self, path: Path, to: str | None = None) -> None:
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
        self.tmp = temp_path(path)
        self.count = 0
        self._fh: IO[bytes] | None = None
        self._raw: IO[bytes] | None = None
        self._pq: pq.ParquetWriter | None = None
        self._pq_schema: pa.Schema | None = None
        if self.kind != ".parquet":
            self._raw = open(self.tmp, "wb")
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
        if self.kind == ".parquet":
            self._write_parquet(batch)
        else:
            assert self._fh is not None
            rows = self._rows(batch)
            if self.kind == ".jsonl":
                self._fh.write(_ENCODER.encode_lines(rows))
            else:
                lead = b",\n" if self.count else b"\n"
                self._fh.write(lead + b",\n".join([_ENCODER.encode(r) for r in rows]))
        self.count += n
        return n

    def _rows(self, batch: pa.Table | list[Record]) -> list[Any]:
        records = to_records(batch) if isinstance(batch, pa.Table) else batch
        return [self.emit(r) for r in records] if self.emit else records

    def _write_parquet(self, batch: pa.Table | list[Record]) -> None:
        if self.emit is None:
            out = conform(batch if isinstance(batch, pa.Table) else to_table(batch))
        else:
            out = pa.Table.from_pylist(self._rows(batch))
            if self._pq_schema is not None:
                try:
                    out = out.select(self._pq_schema.names).cast(self._pq_schema)
                except (pa.ArrowInvalid, KeyError, pa.ArrowNotImplementedError) as e:
                    raise InstructkitError(
                        f"{self.path}: rows do not share one Parquet schema ({e}); write .jsonl instead"
                    ) from None
        if self._pq is None:
            self._pq_schema = out.schema
            self._pq = pq.ParquetWriter(self.tmp, out.schema, compression="zstd")
        self._pq.write_table(out)

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self.kind == ".parquet":
            if self._pq is None:  # no rows: still write a valid, empty file
                schema = RECORD_SCHEMA if self.emit is None else pa.schema([])
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
