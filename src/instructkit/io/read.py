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

import orjson
import pyarrow as pa

from instructkit import formats
from instructkit.accounting import Reject, RunLog
from instructkit.errors import RowError
from instructkit.formats.base import EncodedRecords, Format
from instructkit.io import record_parquet
from instructkit.io.batching import Batch, Batcher
from instructkit.io.rows import RawRow, iter_rows, parquet_batches
from instructkit.io.sources import Source, resolve
from instructkit.schema import Record, to_table

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
    batches = Batcher(options.batch_size, tables)
    ids = UniqueIds()
    detected: dict[str, str] = {}
    clock = time.perf_counter
    started = clock()
    for source, fmt_name in _sources(inputs, options):
        if tables and record_parquet.in_record_layout(source, fmt_name):
            fmt: Format | None = formats.get("records")
            detected[source.location] = "records"
            for item in parquet_batches(source):
                if isinstance(item, RawRow):  # an unreadable row group: one reject
                    ready = batches.add(_row_records(item, fmt, source, log, options, ids))
                    outs = [ready] if ready is not None else []
                elif (
                    fast := record_parquet.checked_table(
                        item[1], source.name, options.max_record_chars
                    )
                ) is None:
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
