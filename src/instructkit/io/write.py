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

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from instructkit import formats
from instructkit.errors import InstructkitError
from instructkit.io.sources import split_suffixes
from instructkit.schema import RECORD_SCHEMA, to_records

_OPTS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class RecordWriter:
    """Streams tables to ``path``; ``to`` names a format to convert each record to (None: records)."""

    def __init__(self, path: Path, to: str | None = None) -> None:
        self.path = path
        self.kind, self.compression, _ = split_suffixes(path)
        if self.kind not in (".jsonl", ".json", ".parquet"):
            raise InstructkitError(f"{path}: output must end in .jsonl, .json or .parquet (optionally .gz/.zst for JSON)")
        if self.kind == ".parquet" and self.compression:
            raise InstructkitError(f"{path}: Parquet is compressed internally; drop the {self.compression}")
        self.emit = formats.writer(to).emit if to and to != "records" else None
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
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

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self.kind == ".parquet":
            self._write_parquet(table)
            return
        assert self._fh is not None
        rows = self._rows(table)
        if self.kind == ".jsonl":
            self._fh.write(b"".join(orjson.dumps(r, option=_OPTS) for r in rows))
        else:
            for r in rows:
                self._fh.write(b"\n" if self.count == 0 else b",\n")
                self._fh.write(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS))
                self.count += 1
            return
        self.count += len(rows)

    def _rows(self, table: pa.Table) -> list[Any]:
        records = to_records(table)
        return [self.emit(r) for r in records] if self.emit else records

    def _write_parquet(self, table: pa.Table) -> None:
        if self.emit is None:
            out = table.cast(RECORD_SCHEMA)
        else:
            out = pa.Table.from_pylist(self._rows(table))
            if self._pq_schema is not None:
                try:
                    out = out.select(self._pq_schema.names).cast(self._pq_schema)
                except (pa.ArrowInvalid, KeyError, pa.ArrowNotImplementedError) as e:
                    raise InstructkitError(f"{self.path}: rows do not share one Parquet schema ({e}); write .jsonl instead") from None
        if self._pq is None:
            self._pq_schema = out.schema
            self._pq = pq.ParquetWriter(self.tmp, out.schema, compression="zstd")
        self._pq.write_table(out)
        self.count += out.num_rows

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
