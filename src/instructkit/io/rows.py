"""Raw rows from one source, streamed, each with the place it came from.

Nothing here loads a whole file: JSONL and CSV are read line by line, Parquet by
row group, and a top-level JSON array element by element (so the truncated
ShareGPT V3 dump reads up to its last complete conversation).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, NamedTuple

import msgspec
import orjson

from instructkit.errors import InstructkitError, MissingDependency, RowError
from instructkit.formats.base import EncodedRecords
from instructkit.io.sources import Source

CHUNK = 1 << 20


class RawRow(NamedTuple):
    """A decoded row (``value``), or the reason it could not be decoded (``error`` + ``raw`` text).

    ``where`` is a line number (or a label such as ``row 12``) inside the source;
    ``size`` is the row's size in bytes where known, so size limits cost nothing
    for the rows far below them.
    """

    where: int | str
    value: Any = None
    error: RowError | None = None
    raw: str | None = None
    size: int = -1


def open_binary(source: Source) -> IO[bytes]:
    try:
        fh: IO[bytes] = open(source.path, "rb")
    except OSError as e:
        raise InstructkitError(f"{source.location}: cannot open ({e.strerror})") from None
    if source.compression == ".gz":
        return gzip.GzipFile(fileobj=fh)  # type: ignore[return-value]
    if source.compression == ".zst":
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(fh, closefd=True))
    return fh


#: A parser for a whole block of JSON lines at once (see ``Format.parse_block``).
BlockParser = Callable[[bytes, str, int], "EncodedRecords | None"]
BLOCK_BYTES = 4 << 20


def iter_rows(
    source: Source, block_parser: BlockParser | None = None, max_chars: int = 0
) -> Iterator[RawRow | EncodedRecords]:
    """Rows of one source.  For JSON lines with a ``block_parser``, whole blocks of lines that
    parse in one call come out as encoded records; any other block falls back to lines."""
    if source.kind == "hf":
        yield from _hf_rows(source)
        return
    if source.kind == "parquet":
        yield from _parquet_rows(source)
        return
    with open_binary(source) as fh:
        try:
            if source.kind == "jsonl" and block_parser is not None:
                yield from _jsonl_blocks(fh, source, block_parser, max_chars)
            elif source.kind == "jsonl":
                yield from _jsonl_rows(fh, source.location)
            elif source.kind == "csv":
                yield from _csv_rows(fh, source.location)
            else:
                yield from _json_rows(fh, source.location)
        except (OSError, EOFError) as e:  # corrupt gzip/zstd stream
            yield RawRow(
                f"{source.location}", error=RowError("unreadable", f"stream is corrupt: {e}")
            )


#: msgspec decodes JSON lines a little faster than orjson here and, more importantly,
#: encodes 3-4x faster on this project's CPUs (see benchmarks/bench_convert.py).
_decode = msgspec.json.Decoder().decode


def decode_line(line: bytes, where: int, location: str) -> RawRow:
    try:
        return RawRow(where, _decode(line), size=len(line))
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        line = line.rstrip(b"\r\n")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as u:
            return RawRow(
                where,
                error=RowError(
                    "invalid_utf8",
                    f"{location}:{where}: bytes are not valid UTF-8 at offset {u.start}",
                ),
                raw=line.decode("utf-8", "backslashreplace"),
            )
        return RawRow(where, error=RowError("invalid_json", f"{location}:{where}: {e}"), raw=text)


def _jsonl_rows(fh: Iterable[bytes], location: str, first: int = 1) -> Iterator[RawRow]:
    decode = _decode
    for lineno, line in enumerate(fh, first):
        try:
            yield RawRow(lineno, decode(line), None, None, len(line))
        except (msgspec.DecodeError, UnicodeDecodeError):
            if line.strip():
                yield decode_line(line, lineno, location)


def _jsonl_blocks(
    fh: IO[bytes], source: Source, block_parser: BlockParser, max_chars: int
) -> Iterator[RawRow | EncodedRecords]:
    """Whole lines, a block at a time, read into one reused buffer (the bytes after the
    block's last newline move to the front): 5–8% faster on a 200k-row convert than
    reading a fresh bytes object per block, whose new pages cost page faults here."""
    buf = bytearray(BLOCK_BYTES)
    filled, first = 0, 1
    while True:
        with memoryview(buf) as view:
            got = fh.readinto(view[filled:])  # type: ignore[attr-defined]
        filled += got
        if not filled:
            return
        end = filled if not got else buf.rfind(b"\n", 0, filled) + 1
        if not end:  # no whole line yet
            if filled == len(buf):  # a line longer than the buffer
                buf.extend(bytes(len(buf)))
            continue
        with memoryview(buf) as view:
            block = block_parser(view[:end], source.name, max_chars)
        if block is not None:
            yield block
        else:
            yield from _jsonl_rows(io.BytesIO(buf[:end]), source.location, first)
        first += buf.count(b"\n", 0, end) + (buf[end - 1] != ord("\n"))
        buf[: filled - end] = buf[end:filled]
        filled -= end


def _csv_rows(fh: IO[bytes], location: str) -> Iterator[RawRow]:
    text = io.TextIOWrapper(fh, encoding="utf-8", errors="strict", newline="")
    reader = csv.DictReader(text)
    try:
        for row in reader:
            where = reader.line_num
            if None in row:
                yield RawRow(
                    where,
                    error=RowError(
                        "wrong_type", f"{location}:{where}: more cells than header columns"
                    ),
                    raw=str(row),
                )
            else:
                yield RawRow(where, row)
    except UnicodeDecodeError as u:
        yield RawRow(
            location,
            error=RowError(
                "invalid_utf8",
                f"{location}: invalid UTF-8 after line {reader.line_num}: {u.reason}",
            ),
        )
    except csv.Error as e:
        yield RawRow(location, error=RowError("invalid_csv", f"{location}:{reader.line_num}: {e}"))


_SKIP = re.compile(r"[\s,]*")


def _json_rows(fh: IO[bytes], location: str) -> Iterator[RawRow]:
    """A ``.json`` file: an array is streamed element by element; an object is one row
    (or, when it wraps a single list of rows such as ``{"data": [...]}``, that list)."""
    text = io.TextIOWrapper(fh, encoding="utf-8", errors="replace")
    head = text.read(CHUNK)
    stripped = head.lstrip("\ufeff \t\r\n")
    if stripped.startswith("["):
        yield from _json_array(text, head, location)
        return
    rest = head + text.read()
    try:
        value = orjson.loads(rest)
    except orjson.JSONDecodeError as e:
        yield RawRow(location, error=RowError("invalid_json", f"{location}: {e}"), raw=rest[:2000])
        return
    lists = [v for v in value.values() if isinstance(v, list)] if isinstance(value, dict) else []
    if isinstance(value, dict) and len(value) == 1 and len(lists) == 1:
        for i, item in enumerate(lists[0]):
            yield RawRow(f"element {i}", item)
    else:
        yield RawRow(1, value)


def _json_array(text: IO[str], buf: str, location: str) -> Iterator[RawRow]:
    """Decode a top-level array one element at a time, refilling the buffer as needed.

    An element that fails to decode is either cut off by the end of the buffer
    (read more and retry) or truly malformed (report it; the rest of an array
    cannot be resynchronised).  At end of file, a cut-off element is the
    truncated tail: one reject, every earlier element kept.
    """
    decoder = json.JSONDecoder()
    pos = buf.index("[") + 1
    line = buf.count("\n", 0, pos) + 1
    eof = False
    index = 0

    def refill() -> None:
        nonlocal buf, pos, eof
        more = text.read(max(CHUNK, len(buf) - pos))
        eof = not more
        buf, pos = buf[pos:] + more, 0

    while True:
        skipped = _SKIP.match(buf, pos).end()  # type: ignore[union-attr]
        line += buf.count("\n", pos, skipped)
        pos = skipped
        if pos >= len(buf):
            if eof:
                yield RawRow(
                    f"{location}:{line}",
                    error=RowError(
                        "truncated",
                        f"{location}:{line}: the file ends before the array is closed (after element {index})",
                    ),
                )
                return
            refill()
            continue
        if buf[pos] == "]":
            return
        try:
            value, end = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError as e:
            cut_off = e.msg.startswith("Unterminated") or e.pos >= len(buf) - 1
            if cut_off and not eof:
                refill()
                continue
            reason = "truncated" if cut_off else "invalid_json"
            detail = (
                f"{location}:{line}: element {index} is cut off by the end of the file"
                if cut_off
                else f"{location}:{line + buf.count(chr(10), pos, e.pos)}: element {index}: {e.msg}; the rest of the array cannot be read"
            )
            yield RawRow(
                f"{location}:{line}", error=RowError(reason, detail), raw=buf[pos : pos + 2000]
            )
            return
        if end >= len(buf) and not eof:  # a bare number may continue in the next chunk
            refill()
            continue
        yield RawRow(line, value)
        index += 1
        line += buf.count("\n", pos, end)
        pos = end
        if pos > CHUNK:
            buf, pos = buf[pos:], 0


def _parquet_rows(source: Source) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source.location)
    except Exception as e:  # pyarrow raises several types for a bad file
        raise InstructkitError(f"{source.location}: not a readable Parquet file ({e})") from None
    n = 0
    for batch in pf.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            n += 1
            yield RawRow(f"row {n}", row)


def _hf_rows(source: Source) -> Iterator[RawRow]:
    try:
        import datasets
    except ImportError:
        raise MissingDependency("datasets", "hf", "reading hf: inputs") from None
    from pathlib import Path

    split = source.compression or "train"
    try:
        if (Path(source.location) / "dataset_info.json").exists() or (
            Path(source.location) / "dataset_dict.json"
        ).exists():
            ds = datasets.load_from_disk(source.location)
            if isinstance(ds, datasets.DatasetDict):
                ds = ds[split]
        else:
            ds = datasets.load_dataset(source.location, split=split, streaming=True)
    except Exception as e:  # the hub client raises many types; the message is what matters
        raise InstructkitError(f"hf:{source.location}: cannot load split '{split}': {e}") from None
    for i, row in enumerate(ds):
        yield RawRow(f"{split} row {i + 1}", row)
