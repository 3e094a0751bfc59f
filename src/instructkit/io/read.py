"""Sources -> validated records in Arrow batches, with every bad row turned into a reject.

Format detection is per file: the first row that looks like a known format
decides (``--from`` forces one), and rows of that file that do not fit it are
rejected with the reason the format's parser gives.

Ids are made unique here, where records enter a run, by one deterministic rule
(README, "The record"): the first record with an id keeps it; a later one gets
its source as a namespace, ``SOURCE/ID``, and if that is taken too an occurrence
suffix, ``SOURCE/ID~2``, ``~3``, ...  So identical records from two sources, or
two sources that both number their rows from 1, stay nameable one by one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from instructkit import formats
from instructkit.accounting import Reject, RunLog
from instructkit.errors import RowError
from instructkit.formats.base import EncodedRecords, Format, is_blank
from instructkit.io.rows import RawRow, iter_rows, parquet_batches
from instructkit.io.sources import Source, resolve
from instructkit.schema import RECORD_SCHEMA, ROLES, SCORES_TYPE, Record, to_table

#: A record whose texts add up to more than this is rejected as ``too_large``: one such row
#: is almost always a scraping accident, and it would dominate any batch it sits in.
DEFAULT_MAX_RECORD_CHARS = 1_000_000
DETECT_WINDOW = 200


@dataclass
class ReadOptions:
    fmt: str = "auto"
    batch_size: int = 5000
    max_record_chars: int = DEFAULT_MAX_RECORD_CHARS
    #: Files a folder scan skips: the run's own output and sidecars.
    exclude: tuple[Path, ...] = ()
    #: Per INPUT argument: the source name to give its records, and its format (recipes' inputs).
    sources: dict[str, str] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)


class UniqueIds:
    """The id rule: first come keeps its id, later ones become ``SOURCE/ID`` then ``SOURCE/ID~N``."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.renamed = 0
        self._next: dict[str, int] = {}

    def fits(self, ids: list[str]) -> bool:
        """True (and the ids taken) when a block's ids are all new and distinct: the fast path."""
        taken = self.taken
        if not taken.isdisjoint(ids):
            return False
        before = len(taken)
        taken.update(ids)
        if len(taken) - before == len(ids):
            return True
        taken.difference_update(ids)  # a repeat inside the block: all were new, so undo exactly
        return False

    def assign(self, records: list[Record]) -> None:
        taken = self.taken
        for rec in records:
            rid = rec["id"]
            if rid in taken:
                rid = rec["id"] = self._fresh(rid, rec["source"])
                self.renamed += 1
            taken.add(rid)

    def _fresh(self, rid: str, source: str) -> str:
        base = rid if rid.startswith(f"{source}/") else f"{source}/{rid}"
        if base not in self.taken:
            return base
        k = self._next.get(base, 2)
        while f"{base}~{k}" in self.taken:
            k += 1
        self._next[base] = k + 1
        return f"{base}~{k}"


def _sources(inputs: list[str], options: ReadOptions) -> Iterator[tuple[Source, str]]:
    """Every source of every input with the format to read it as, named as the input says."""
    for spec in inputs:
        for source in resolve([spec], options.exclude):
            name = options.sources.get(spec)
            yield (
                (replace(source, name=name) if name else source),
                options.formats.get(spec, options.fmt),
            )


Batch = list[Record] | EncodedRecords


def read_batches(
    inputs: list[str], log: RunLog, options: ReadOptions | None = None
) -> Iterator[Batch]:
    """Stream every input as batches of records, in input order: lists that end at the
    row that brings them to ``batch_size`` records (or before a block, or at the end),
    and the blocks a format's fast path encoded in one go.

    Records stay plain dicts (or encoded lines) here: a file-to-file conversion
    never needs Arrow, and the engine builds a table only for steps that work on
    one.  Time spent in this generator (not in its consumer) is logged as the
    ``read`` step.
    """
    yield from _read(inputs, log, options or ReadOptions(), tables=False)  # type: ignore[misc]


def read_tables(
    inputs: list[str], log: RunLog, options: ReadOptions | None = None
) -> Iterator[pa.Table]:
    """The batches of :func:`read_batches` as Arrow tables, the same records in the same batches.

    Parquet files already in the record layout (what every step writes) skip the
    row-by-row parse: their Arrow batches are checked column-wise for everything the
    ``records`` parser checks and go straight through; a batch that fails any check
    goes through the row path, so its rejects are exactly the row path's.
    """
    yield from _read(inputs, log, options or ReadOptions(), tables=True)  # type: ignore[misc]


def _read(
    inputs: list[str], log: RunLog, options: ReadOptions, *, tables: bool
) -> Iterator[Batch | pa.Table]:
    batches = _Batcher(options.batch_size, tables)
    ids = UniqueIds()
    detected: dict[str, str] = {}
    clock = time.perf_counter
    started = clock()
    for source, fmt_name in _sources(inputs, options):
        if tables and _in_record_layout(source, fmt_name):
            fmt: Format | None = formats.get("records")
            detected[source.location] = "records"
            for item in parquet_batches(source):
                if isinstance(item, RawRow):  # an unreadable row group: one reject
                    ready = batches.add(_row_records(item, fmt, source, log, options, ids))
                    outs = [ready] if ready is not None else []
                elif (fast := _fast_table(item[1], source.name, options.max_record_chars)) is None:
                    outs = []
                    for n, row in enumerate(item[1].to_pylist(), item[0] + 1):
                        raw = RawRow(f"row {n}", row)
                        ready = batches.add(_row_records(raw, fmt, source, log, options, ids))
                        if ready is not None:
                            outs.append(ready)
                else:
                    log.records_in += fast.num_rows
                    outs = batches.add_table(_unique(fast, ids))
                for out in outs:
                    log.seconds["read"] = log.seconds.get("read", 0.0) + clock() - started
                    yield out
                    started = clock()
            continue
        fmt = formats.get(fmt_name) if fmt_name != "auto" else _detect(source)
        detected[source.location] = fmt.name if fmt else "unknown"
        parse = fmt.parse if fmt else None
        for raw in iter_rows(source, fmt.parse_block if fmt else None, options.max_record_chars):
            block = raw if isinstance(raw, EncodedRecords) else None
            ready = None
            if block is not None:  # a block of lines parsed in one go
                log.records_in += len(block)
                if not ids.fits(block.ids):  # rare: rename in the records, off the fast path
                    records = block.records()
                    ids.assign(records)
                    ready = batches.add(records)
                    block = None
                else:
                    ready = batches.take()
            else:
                # The common case inline (a valid row giving one record); everything else in parse_row.
                if (
                    parse is not None
                    and raw.error is None
                    and 0 <= raw.size <= options.max_record_chars
                ):
                    try:
                        records = parse(raw.value, source.name)
                    except Exception:
                        records = parse_row(raw, fmt, source, log, options)
                    else:
                        log.records_in += len(records)
                else:
                    records = parse_row(raw, fmt, source, log, options)
                ids.assign(records)
                ready = batches.add(records)
            for batch in (ready, block):  # in input order
                if batch:
                    log.seconds["read"] = log.seconds.get("read", 0.0) + clock() - started
                    yield to_table(batch.records()) if tables and block is batch else batch  # type: ignore[union-attr]
                    started = clock()
    log.extra["formats"] = detected
    log.extra["ids_renamed"] = ids.renamed
    log.seconds["read"] = log.seconds.get("read", 0.0) + clock() - started
    last = batches.take()
    if last is not None:
        yield last


def _row_records(
    raw: RawRow,
    fmt: Format | None,
    source: Source,
    log: RunLog,
    options: ReadOptions,
    ids: UniqueIds,
) -> list[Record]:
    """One Parquet row through the row path, exactly as :func:`_read` treats it (its size is
    unknown, so it always takes :func:`parse_row`), with its ids made unique."""
    records = parse_row(raw, fmt, source, log, options)
    ids.assign(records)
    return records


class _Batcher:
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
    col = _entries(table.column("scores").combine_chunks())
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


_ENTRIES = pa.list_(pa.struct([("key", pa.string()), ("value", pa.float64())]))


def _entries(scores: pa.Array) -> pa.ListArray:
    """A ``scores`` map as a list of key/value structs: the list kernels take no maps."""
    return scores.cast(_ENTRIES)


def _in_record_layout(source: Source, fmt_name: str) -> bool:
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


def _fast_table(batch: pa.RecordBatch, source: str, max_chars: int) -> pa.Table | None:
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
    entries = _entries(scores)
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


def _unique(table: pa.Table, ids: UniqueIds) -> pa.Table:
    """The id rule on a fast-path table, renaming exactly as :meth:`UniqueIds.assign` would."""
    id_list = table.column("id").to_pylist()
    if ids.fits(id_list):
        return table
    stubs: list[Record] = [
        {"id": i, "source": s}  # type: ignore[typeddict-item]
        for i, s in zip(id_list, table.column("source").to_pylist(), strict=True)
    ]
    ids.assign(stubs)
    return table.set_column(0, "id", pa.array([r["id"] for r in stubs], pa.string()))


def _detect(source: Source) -> Format | None:
    """The format of the first row (of up to DETECT_WINDOW) that looks like a known one.

    A separate, short pass over the head of the source, so the main pass can use
    the format's block parser from its first line."""
    rows = iter_rows(source)
    try:
        for k, raw in enumerate(rows):
            if raw.error is None:  # type: ignore[union-attr]
                fmt = formats.detect(raw.value)  # type: ignore[union-attr]
                if fmt is not None:
                    return fmt
            if k + 1 >= DETECT_WINDOW:
                break
        return None
    finally:
        rows.close()  # type: ignore[attr-defined]


def parse_row(
    raw: RawRow, fmt: Format | None, source: Source, log: RunLog, options: ReadOptions
) -> list[Record]:
    """The records of one raw row, counted in ``log``; a row that gives none is a ``read`` reject.

    Public because an engine that reads its rows elsewhere (the Ray engine's workers) must
    parse and count them exactly as :func:`read_batches` does."""
    log.records_in += 1
    if raw.error is not None:
        log.reject(Reject("read", raw.error.reason, raw.error.detail, line=raw.raw))
        return []
    if fmt is None:
        keys = sorted(raw.value)[:8] if isinstance(raw.value, dict) else type(raw.value).__name__
        log.reject(
            Reject(
                "read",
                "unknown_format",
                f"{_where(source, raw)}: no known format matches (fields: {keys}); use --from",
                record=_jsonable(raw.value),
            )
        )
        return []
    try:
        records = fmt.parse(raw.value, source.name)
    except RowError as e:
        log.reject(
            Reject(
                "read", e.reason, f"{_where(source, raw)}: {e.detail}", record=_jsonable(raw.value)
            )
        )
        return []
    except (
        KeyError,
        TypeError,
        AttributeError,
        ValueError,
    ) as e:  # a shape the parser did not foresee
        log.reject(
            Reject(
                "read",
                "wrong_type",
                f"{_where(source, raw)}: unexpected structure ({type(e).__name__}: {e})",
                record=_jsonable(raw.value),
            )
        )
        return []
    # One input row may expand into several records (OASST threads, Self-Instruct instances).
    log.records_in += len(records) - 1
    if 0 <= raw.size <= options.max_record_chars:  # the whole line is smaller than the limit
        return records
    kept = []
    for rec in records:
        size = sum(len(m["content"]) for m in rec["messages"])
        if size > options.max_record_chars:
            log.reject(
                Reject(
                    "read",
                    "too_large",
                    f"{_where(source, raw)}: {size:,} characters of text, over the limit of {options.max_record_chars:,} (--max-record-chars)",
                    record=rec,
                )
            )
        else:
            kept.append(rec)
    return kept


def _where(source: Source, raw: RawRow) -> str:
    return f"{source.location}:{raw.where}"


def _jsonable(value: object) -> object:
    """Rejects must be writable as JSON even when the row held bytes or odd types (Parquet)."""
    try:
        orjson.dumps(value)
        return value
    except TypeError:
        try:
            return repr(value)
        except RecursionError:
            return f"<{type(value).__name__} nested too deeply to show>"
