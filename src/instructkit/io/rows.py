"""Raw rows from one source, streamed, each with the place it came from.

Nothing here loads a whole file: JSONL, CSV and text are read line by line, Parquet
by row group, and a top-level JSON array element by element (so the truncated
ShareGPT V3 dump reads up to its last complete conversation).

Damage costs only the rows it touches: a bad byte, an oversized CSV field or a
malformed array element is one located reject and reading goes on after it; a
cut-off or corrupt ``.gz``/``.zst`` keeps every row before the damage and reports
the damage once.  A file with nothing readable at all is an error (exit 2).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, NamedTuple

import msgspec
import orjson
import pyarrow as pa

from instructkit.errors import InstructkitError, MissingDependency, RowError
from instructkit.formats.base import EncodedRecords
from instructkit.io.compression import SalvagingReader, open_decompressed
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


BOM = b"\xef\xbb\xbf"


def open_binary(source: Source) -> tuple[IO[bytes], SalvagingReader | None]:
    """The source's bytes (decompressed), and for a compressed one the reader that records damage."""
    try:
        fh: IO[bytes] = open(source.path, "rb")
    except OSError as e:
        raise InstructkitError(f"{source.location}: cannot open ({e.strerror})") from None
    if source.compression is None:
        return fh, None
    return open_decompressed(fh, source.compression)


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
    fh, damage = open_binary(source)
    loc = source.location
    with fh:
        try:
            if source.kind in ("jsonl", "txt") and fh.peek(3)[:3] == BOM:  # type: ignore[attr-defined]
                fh.read(3)
            if source.kind == "jsonl" and block_parser is not None:
                yield from _jsonl_blocks(fh, source, block_parser, max_chars)
            elif source.kind == "jsonl":
                yield from _jsonl_rows(fh, loc)
            elif source.kind == "csv":
                yield from _csv_rows(fh, loc, max_chars)
            elif source.kind == "txt":
                yield from _txt_rows(fh, loc)
            else:
                yield from _json_rows(fh, loc)
        except OSError as e:  # the disk, not the data
            raise InstructkitError(f"{loc}: cannot read ({e.strerror or e})") from None
    if damage is not None and damage.error is not None:
        if not damage.delivered:
            raise InstructkitError(f"{loc}: not readable: {damage.error}")
        yield RawRow(
            f"after line {damage.lines}",
            error=RowError(
                damage.reason,
                f"{loc}: after line {damage.lines}: {damage.error}; "
                "the rows before it were kept, the rest of the file cannot be read",
            ),
        )


#: msgspec decodes JSON lines a little faster than orjson here and, more importantly,
#: encodes 3-4x faster on this project's CPUs (see benchmarks/bench_convert.py).
_decode = msgspec.json.Decoder().decode


def decode_line(line: bytes, where: int, location: str) -> RawRow:
    try:
        return RawRow(where, _decode(line), size=len(line))
    except RecursionError:
        return RawRow(
            where,
            error=RowError("too_deep", f"{location}:{where}: JSON nested too deeply to read"),
            raw=line[:2000].decode("utf-8", "backslashreplace"),
        )
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
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
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
            try:
                block = block_parser(view[:end], source.name, max_chars)
            except RecursionError:  # a deeply nested line: the row path rejects it
                block = None
        if block is not None:
            yield block
        else:
            yield from _jsonl_rows(io.BytesIO(buf[:end]), source.location, first)
        first += buf.count(b"\n", 0, end) + (buf[end - 1] != ord("\n"))
        buf[: filled - end] = buf[end:filled]
        filled -= end


#: Undecodable bytes, kept by ``surrogateescape`` so that one bad byte costs one row.
_BAD_BYTES = re.compile("[\udc80-\udcff]")
#: The csv module's own default limit on one field's size.
CSV_FIELD_LIMIT = 131_072


def _as_text(value: str) -> str:
    """A string that may hold undecodable bytes, made writable (``\\xNN`` for each bad byte)."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(cells)
    return _as_text(out.getvalue().rstrip("\r\n"))


def _csv_rows(fh: IO[bytes], location: str, max_chars: int = 0) -> Iterator[RawRow]:
    """CSV rows as dicts keyed by the header.  A row with bad bytes, too many cells or a
    field over the size limit is one reject; reading goes on with the next row."""
    limit = max(max_chars, CSV_FIELD_LIMIT)
    csv.field_size_limit(limit)
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    header: list[str] | None = None
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            where = reader.line_num
            reason = "too_large" if "field larger" in str(e) else "invalid_csv"
            detail = (
                f"a field is over {limit:,} characters (--max-record-chars)"
                if reason == "too_large"
                else str(e)
            )
            yield RawRow(where, error=RowError(reason, f"{location}:{where}: {detail}"))
            continue
        where = reader.line_num
        if not cells:  # a blank line
            continue
        if header is None:
            if _BAD_BYTES.search("".join(cells)):
                raise InstructkitError(f"{location}:{where}: the CSV header is not valid UTF-8")
            header = cells
            continue
        if _BAD_BYTES.search("".join(cells)):
            yield RawRow(
                where,
                error=RowError(
                    "invalid_utf8", f"{location}:{where}: bytes are not valid UTF-8 (\\xNN below)"
                ),
                raw=_csv_line(cells),
            )
        elif len(cells) > len(header):
            yield RawRow(
                where,
                error=RowError(
                    "wrong_type",
                    f"{location}:{where}: {len(cells)} cells, more than the {len(header)} header columns",
                ),
                raw=_csv_line(cells),
            )
        else:
            yield RawRow(where, dict(zip(header, cells + [None] * (len(header) - len(cells)))))


def _txt_rows(fh: IO[bytes], location: str) -> Iterator[RawRow]:
    """A ``.txt`` prompt list: each non-empty line is one prompt (a user-only record)."""
    for lineno, line in enumerate(fh, 1):
        try:
            value = line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as u:
            yield RawRow(
                lineno,
                error=RowError(
                    "invalid_utf8",
                    f"{location}:{lineno}: bytes are not valid UTF-8 at offset {u.start}",
                ),
                raw=line.rstrip(b"\r\n").decode("utf-8", "backslashreplace"),
            )
            continue
        if value.strip():
            yield RawRow(lineno, value, size=len(line))


_SKIP = re.compile(r"[\s,]*")


def _json_rows(fh: IO[bytes], location: str) -> Iterator[RawRow]:
    """A ``.json`` file: an array is streamed element by element; an object is one row
    (or, when it wraps a single list of rows such as ``{"data": [...]}``, that list)."""
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape")
    head = text.read(CHUNK)
    stripped = head.lstrip(" \t\r\n")
    if stripped.startswith("["):
        yield from _json_array(text, head, location)
        return
    rest = head + text.read()
    if bad := _BAD_BYTES.search(rest):
        line = rest.count("\n", 0, bad.start()) + 1
        yield RawRow(
            location,
            error=RowError("invalid_utf8", f"{location}:{line}: bytes are not valid UTF-8"),
            raw=_as_text(rest[:2000]),
        )
        return
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


#: Where a later array element may start: after a comma, at a value's first character.
_NEXT_ELEMENT = re.compile(r",\s*(?=[\[{\"\d\-tfn])")
_AFTER_ELEMENT = re.compile(r"\s*[,\]]")


def _resync(decoder: json.JSONDecoder, buf: str, start: int) -> tuple[int, int] | None:
    """(end of the bad span, start of the first later element that decodes and is followed by
    ``,`` or ``]``): where reading goes on after a malformed element (None: nowhere)."""
    for m in _NEXT_ELEMENT.finditer(buf, start):
        try:
            _, end = decoder.raw_decode(buf, m.end())
        except (json.JSONDecodeError, RecursionError):
            continue
        if _AFTER_ELEMENT.match(buf, end):
            return m.start(), m.end()
    return None


def _json_array(text: IO[str], buf: str, location: str) -> Iterator[RawRow]:
    """Decode a top-level array one element at a time, refilling the buffer as needed.

    An element that fails to decode is either cut off by the end of the buffer
    (read more and retry) or truly malformed: then it is one reject, and reading
    goes on at the next element that decodes.  At end of file, a cut-off element is
    the truncated tail: one reject, every earlier element kept.  An element holding
    undecodable bytes is an ``invalid_utf8`` reject.
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
        except (json.JSONDecodeError, RecursionError) as e:
            deep = isinstance(e, RecursionError)
            cut_off = not deep and (e.msg.startswith("Unterminated") or e.pos >= len(buf) - 1)  # type: ignore[union-attr]
            if (cut_off or deep) and not eof:
                refill()
                continue
            if cut_off:
                yield RawRow(
                    f"{location}:{line}",
                    error=RowError(
                        "truncated",
                        f"{location}:{line}: element {index} is cut off by the end of the file",
                    ),
                    raw=_as_text(buf[pos : pos + 2000]),
                )
                return
            if not eof:  # malformed: find where the next element starts in the rest of the file
                buf, pos, eof = buf[pos:] + text.read(), 0, True
            found = _resync(decoder, buf, pos)
            bad_end, resume = found if found is not None else (len(buf), None)
            why = "nested too deeply to read" if deep else e.msg  # type: ignore[union-attr]
            at = line + buf.count("\n", pos, getattr(e, "pos", pos))
            after = (
                f"; reading resumed at line {line + buf.count(chr(10), pos, resume)}"
                if resume is not None
                else "; no later element could be read"
            )
            yield RawRow(
                f"{location}:{line}",
                error=RowError(
                    "too_deep" if deep else "invalid_json",
                    f"{location}:{at}: element {index}: {why}{after}",
                ),
                raw=_as_text(buf[pos : min(bad_end, pos + 2000)]),
            )
            if resume is None:
                return
            line += buf.count("\n", pos, resume)
            pos, index = resume, index + 1
            continue
        if end >= len(buf) and not eof:  # a bare number may continue in the next chunk
            refill()
            continue
        if _BAD_BYTES.search(buf, pos, end):
            yield RawRow(
                f"{location}:{line}",
                error=RowError(
                    "invalid_utf8",
                    f"{location}:{line}: element {index}: bytes are not valid UTF-8 (\\xNN below)",
                ),
                raw=_as_text(buf[pos : min(end, pos + 2000)]),
            )
        else:
            yield RawRow(line, value)
        index += 1
        line += buf.count("\n", pos, end)
        pos = end
        if pos > CHUNK:
            buf, pos = buf[pos:], 0


def _parquet_rows(source: Source) -> Iterator[RawRow]:
    for item in parquet_batches(source):
        if isinstance(item, RawRow):
            yield item
            continue
        n, batch = item
        for row in batch.to_pylist():
            n += 1
            yield RawRow(f"row {n}", row)


def parquet_batches(source: Source) -> Iterator[tuple[int, pa.RecordBatch] | RawRow]:
    """A Parquet file's record batches, each with the number of rows before it, and one
    ``corrupt`` row for a row group that cannot be read (the others are still read).

    Shared by the row path and the reader's Arrow fast path, so both number rows alike."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source.location)
    except Exception as e:  # pyarrow raises several types for a bad file
        raise InstructkitError(f"{source.location}: not a readable Parquet file ({e})") from None
    n = 0
    for group in range(pf.num_row_groups):
        size = pf.metadata.row_group(group).num_rows
        try:
            table = pf.read_row_group(group)
        except Exception as e:  # a corrupt page: this row group is lost, the others are read
            if pf.num_row_groups == 1:
                raise InstructkitError(
                    f"{source.location}: not a readable Parquet file ({e})"
                ) from None
            yield RawRow(
                f"rows {n + 1}-{n + size}",
                error=RowError(
                    "corrupt",
                    f"{source.location}: row group {group} (rows {n + 1}-{n + size}, {size:,} rows) "
                    f"cannot be read ({e}); the other row groups were read",
                ),
            )
            n += size
            continue
        for batch in table.to_batches(max_chunksize=4096):
            yield n, batch
            n += batch.num_rows


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
