"""The Arrow fast path for record-layout Parquet gives exactly what the row path gives.

Each test reads the same files twice, once as shipped and once with the fast path
switched off (``record_parquet.in_record_layout`` patched to say no), and compares tables, batch
boundaries, counts and rejects.  The records are written here, not taken from any
data set, and hold the cases the ``records`` parser treats specially.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from instructkit.accounting import RunLog
from instructkit.io import read, record_parquet
from instructkit.io.read import ReadOptions, read_batches, read_tables
from instructkit.schema import RECORD_SCHEMA, to_records
from tests.helpers import ik


def turn(role: Any, content: Any) -> dict[str, Any]:
    return {"role": role, "content": content}


def rec(i: int, **over: Any) -> dict[str, Any]:
    """A valid record-layout row; ``over`` replaces any field (with nulls, wrong values...)."""
    row: dict[str, Any] = {
        "id": f"r{i}",
        "source": "src",
        "messages": [turn("user", f"Question {i}?"), turn("assistant", f"Answer {i}.")],
        "meta": '{"k":1}',
        "scores": None,
        "lineage": None,
    }
    row.update(over)
    return row


def write(path: Path, rows: list[dict[str, Any]], group: int = 7) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), path, row_group_size=group)
    return path


def count_fast_tables(m: pytest.MonkeyPatch) -> list[bool]:
    """Patch the fast path's batch check to note each call; the list of calls."""
    calls: list[bool] = []
    real = record_parquet.checked_table
    m.setattr(record_parquet, "checked_table", lambda *a: calls.append(True) or real(*a))
    return calls


def read_both(
    monkeypatch: pytest.MonkeyPatch, inputs: list[str], **options: Any
) -> tuple[tuple[list[pa.Table], RunLog], tuple[list[pa.Table], RunLog]]:
    """(fast, slow): the tables read and the log, with and without the fast path."""
    results = []
    for fast in (True, False):
        with monkeypatch.context() as m:
            if not fast:
                m.setattr(record_parquet, "in_record_layout", lambda source, fmt: False)
            calls = count_fast_tables(m)
            log = RunLog(None, None)
            tables = list(read_tables(inputs, log, ReadOptions(**options)))
            assert bool(calls) == fast
        results.append((tables, log))
    return results[0], results[1]


def assert_same(monkeypatch: pytest.MonkeyPatch, inputs: list[str], **options: Any) -> RunLog:
    (fast, flog), (slow, slog) = read_both(monkeypatch, inputs, **options)
    assert [t.num_rows for t in fast] == [t.num_rows for t in slow]
    for a, b in zip(fast, slow, strict=True):
        assert a.schema.equals(RECORD_SCHEMA)
        assert a.equals(b), (a.to_pylist(), b.to_pylist())
    for key in ("records_in", "rejected"):
        assert getattr(flog, key) == getattr(slog, key)
    assert flog.extra == slog.extra
    return flog


def test_clean_file_takes_the_fast_path_with_the_same_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [rec(i) for i in range(40)]
    rows[3]["scores"] = [("len", 3.0), ("ifd", 0.5)]
    rows[5]["lineage"] = {"parent": "r1", "round": 2, "operation": "deepen", "model": "m"}
    rows[6]["meta"] = '{"b": [1, 2.50], "a": "\\u00e9"}'  # not as orjson writes it: re-encoded
    rows[7]["meta"] = None
    rows[8]["meta"] = ""
    rows[9]["source"] = None
    rows[10]["source"] = ""
    rows[11]["messages"] = [turn("system", "Be brief."), turn("user", "问题"), turn("tool", "{}")]
    rows[12]["messages"] = [turn("user", "\u3000x")]  # no printable ASCII: checked one by one
    rows[13]["scores"] = []
    for row in rows[20:30]:
        row["scores"] = [("len", 1.0), ("ifd", None)]  # the same keys in many rows: not repeats
    path = write(tmp_path / "a.parquet", rows)
    with monkeypatch.context() as m:  # every batch passes the checks: no row goes the row path
        m.setattr(read, "_row_records", lambda *a: pytest.fail(f"row path taken: {a[0]}"))
        assert sum(t.num_rows for t in read_tables([str(path)], RunLog(None, None))) == 40
    log = assert_same(monkeypatch, [str(path)], batch_size=5)
    assert log.records_in == 40 and not log.rejected
    assert log.extra["formats"] == {str(path): "records"}


def test_repeated_ids_are_renamed_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = write(tmp_path / "a.parquet", [rec(i) for i in range(10)] + [rec(3), rec(3)])
    b = write(tmp_path / "b.parquet", [rec(i, source="other") for i in range(12)])
    c = tmp_path / "c.jsonl"
    c.write_text('{"instruction": "Question 1?", "output": "x", "id": "r1"}\n')
    log = assert_same(monkeypatch, [str(a), str(c), str(b)], batch_size=4)
    assert log.extra["ids_renamed"] == 2 + 1 + 10
    ids = [
        r["id"] for t in read_tables([str(a), str(b)], RunLog(None, None)) for r in to_records(t)
    ]
    assert len(set(ids)) == len(ids) and "src/r3~2" in ids


def test_rows_the_parser_rejects_or_changes_fall_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = [
        rec(100, messages=[turn("user", "  "), turn("assistant", "ok")]),
        rec(101, messages=[turn("user", "\u200b\ufeff"), turn("assistant", "ok")]),
        rec(102, messages=[turn("user", "")]),
        rec(103, messages=[]),
        rec(104, messages=None),
        rec(105, messages=[turn("human", "alias"), turn("model", "renamed")]),
        rec(106, messages=[turn("robot", "no such role")]),
        rec(107, messages=[turn(None, "no role")]),
        rec(108, messages=[turn("user", None)]),
        rec(109, messages=[None]),
        rec(110, id=None),
        rec(111, meta="{not json"),
        rec(112, meta="[1, 2]"),
        rec(113, meta="null"),
        rec(114, scores=[("a", 1.0), ("a", 2.0)]),
        rec(115, messages=[turn("user", "x" * 60), turn("assistant", "y" * 50)]),
    ]
    rows = [rec(i) for i in range(30)]
    for k, row in enumerate(bad):
        rows.insert(2 * k + 1, row)
    path = write(tmp_path / "bad.parquet", rows, group=9)
    log = assert_same(monkeypatch, [str(path)], batch_size=6, max_record_chars=100)
    assert (
        log.records_in == 46
    )  # ids 105 (aliases), 110 (null id) and 114 (a repeated key) are kept
    assert log.rejected == {
        "empty_turn": 4,
        "empty_conversation": 1,
        "missing_field": 2,
        "unknown_role": 1,
        "wrong_type": 3,
        "invalid_json": 1,
        "too_large": 1,
    }


def test_other_schemas_and_forced_formats_take_the_row_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_fast_tables(monkeypatch)
    partial = tmp_path / "partial.parquet"
    rows = [rec(i) for i in range(5)]
    pq.write_table(pa.Table.from_pylist(rows).drop_columns(["scores", "lineage"]), partial)
    full = write(tmp_path / "full.parquet", rows)
    empty = write(tmp_path / "empty.parquet", [])
    for inputs, fmt in (([partial], "auto"), ([full], "openai"), ([empty], "auto")):
        log = RunLog(None, None)
        list(read_tables([str(p) for p in inputs], log, ReadOptions(fmt=fmt)))
    assert not calls
    log = RunLog(None, None)
    assert sum(len(b) for b in read_batches([str(full)], log)) == 5  # records: the row path
    assert not calls


@pytest.mark.parametrize("ext", [".parquet", ".jsonl"])
def test_a_step_writes_byte_identical_files(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    ext: str,
) -> None:
    rows = [rec(i % 50, scores=[("q", float(i))] if i % 3 else None) for i in range(120)]
    rows[7]["messages"] = [turn("user", " ")]
    rows[8]["messages"] = [turn("user", "z" * 5000)]
    rows[9]["meta"] = '{"x":  2}'
    rows[10]["lineage"] = {"parent": "r1", "round": 1, "in_context": ["a", None]}
    path = write(tmp_path / "in.parquet", rows, group=25)
    outputs = {}
    for fast in (True, False):
        out = tmp_path / ("fast" if fast else "slow") / f"out{ext}"
        out.parent.mkdir()
        with monkeypatch.context() as m:
            if not fast:
                m.setattr(record_parquet, "in_record_layout", lambda source, fmt: False)
            code, _, _ = ik(
                capsys,
                "dedup",
                path,
                "-o",
                out,
                "--method",
                "exact",
                "--max-record-chars",
                4000,
                "--batch-size",
                20,
            )
        assert code == 0
        outputs[fast] = out
    for name in (f"out{ext}", "out.rejects.jsonl"):
        fast_bytes = (outputs[True].parent / name).read_bytes()
        assert fast_bytes == (outputs[False].parent / name).read_bytes(), name
    assert (outputs[True].parent / "out.rejects.jsonl").read_bytes().count(b"\n") > 2
