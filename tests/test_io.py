"""Containers and accounting: every row ends in the output or the rejects file, with a reason."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

import instructkit
from instructkit.errors import InstructkitError, StrictError
from instructkit.schema import to_records
from tests.helpers import read_jsonl, write_jsonl

ROWS = [{"instruction": f"Question {i}?", "input": "", "output": f"Answer {i}."} for i in range(30)]


def _check_books(summary: dict, out: Path) -> None:
    rejects_path = out.with_name(out.name.split(".")[0] + ".rejects.jsonl")
    rejects = read_jsonl(rejects_path)
    assert summary["balanced"]
    assert summary["records_in"] == summary["records_out"] + len(rejects)
    assert sum(summary["rejected"].values()) == len(rejects)
    summary_file = json.loads(out.with_name(out.name.split(".")[0] + ".summary.json").read_text())
    assert summary_file["records_in"] == summary["records_in"]


def test_jsonl_with_bad_lines_keeps_going(tmp_path: Path) -> None:
    src = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps(ROWS[0]),
        "{not json",
        "",
        json.dumps({"instruction": "no output", "output": None, "input": []}),
        json.dumps(ROWS[1]),
    ]
    src.write_bytes(
        ("\n".join(lines) + "\n").encode() + b'{"instruction": "\xff\xfe", "output": "x"}\n'
    )
    out = tmp_path / "out.jsonl"
    summary = instructkit.convert(str(src), out)
    assert summary["records_out"] == 2
    assert summary["rejected"] == {"invalid_json": 1, "invalid_utf8": 1, "wrong_type": 1}
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    by_reason = {r["reason"]: r for r in rejects}
    assert (
        f"{src}:2" in by_reason["invalid_json"]["detail"]
        and by_reason["invalid_json"]["line"] == "{not json"
    )
    assert (
        f"{src}:4" in by_reason["wrong_type"]["detail"]
        and "'input'" in by_reason["wrong_type"]["detail"]
    )
    assert f"{src}:6" in by_reason["invalid_utf8"]["detail"]
    assert all(r["step"] == "read" for r in rejects)
    _check_books(summary, out)


def test_strict_stops_at_first_reject(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text(json.dumps(ROWS[0]) + "\n{oops\n" + json.dumps(ROWS[1]) + "\n")
    with pytest.raises(StrictError, match="invalid_json"):
        instructkit.convert(str(src), tmp_path / "out.jsonl", strict=True)
    assert not (tmp_path / "out.jsonl").exists()  # atomic: no half-written output


def test_json_array_streams_and_reports_a_truncated_tail(tmp_path: Path) -> None:
    text = json.dumps(ROWS, indent=2)
    cut = text[: text.rindex('"output"') + 12]  # end mid-way through the last element
    src = tmp_path / "dump.json"
    src.write_text(cut)
    out = tmp_path / "out.jsonl"
    summary = instructkit.convert(str(src), out)
    assert summary["records_out"] == len(ROWS) - 1 and summary["rejected"] == {"truncated": 1}
    (rej,) = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert "cut off" in rej["detail"] and f"{src}:" in rej["detail"]
    _check_books(summary, out)


def test_json_array_small_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Elements that straddle read boundaries are reassembled (chunk shrunk to force it)."""
    from instructkit.io import rows

    monkeypatch.setattr(rows, "CHUNK", 64)
    src = tmp_path / "a.json"
    src.write_text(json.dumps(ROWS))
    assert [r["messages"][0]["content"] for r in instructkit.read_records(str(src))] == [
        r["instruction"] for r in ROWS
    ]


def test_json_object_wrapping_a_list_and_single_object(tmp_path: Path) -> None:
    (tmp_path / "wrapped.json").write_text(json.dumps({"data": ROWS[:3]}))
    (tmp_path / "single.json").write_text(json.dumps(ROWS[5]))
    assert len(instructkit.read_records(str(tmp_path / "wrapped.json"))) == 3
    assert len(instructkit.read_records(str(tmp_path / "single.json"))) == 1


def test_csv_gz_zst_parquet_and_folder(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    with open(folder / "a.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["instruction", "input", "output"])
        w.writeheader()
        w.writerows(ROWS[:5])
    with gzip.open(folder / "b.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in ROWS[5:10])
    (folder / "c.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(
            "".join(json.dumps(r) + "\n" for r in ROWS[10:15]).encode()
        )
    )
    pq.write_table(pa.Table.from_pylist(ROWS[15:20]), folder / "d.parquet")
    (folder / "notes.txt").write_text("not data")
    out = tmp_path / "out.parquet"
    summary = instructkit.convert(str(folder), out)
    assert summary["records_out"] == 20 and summary["rejected"] == {}
    table = pq.read_table(out)
    assert table.num_rows == 20
    recs = to_records(table)
    assert sorted(r["source"] for r in recs) == sorted(
        ["a"] * 5 + ["b"] * 5 + ["c"] * 5 + ["d"] * 5
    )
    # Records files read back as records, unchanged.
    again = tmp_path / "again.jsonl"
    instructkit.convert(str(out), again)
    assert read_jsonl(again) == [dict(r) for r in recs]


def test_sharegpt_with_json_encoded_turns_in_csv(tmp_path: Path) -> None:
    with open(tmp_path / "s.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["id", "conversations"])
        w.writeheader()
        w.writerow(
            {
                "id": "x",
                "conversations": json.dumps(
                    [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]
                ),
            }
        )
    (rec,) = instructkit.read_records(str(tmp_path / "s.csv"), fmt="sharegpt")
    assert rec["id"] == "x" and len(rec["messages"]) == 2


@pytest.mark.parametrize("ext", [".jsonl", ".json", ".jsonl.gz", ".json.zst", ".parquet"])
def test_record_outputs_read_back(tmp_path: Path, ext: str) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[:7])
    out = tmp_path / f"out{ext}"
    instructkit.convert(str(src), out)
    assert [r["messages"] for r in instructkit.read_records(str(out))] == [
        r["messages"] for r in instructkit.read_records(str(src))
    ]


def test_too_large_and_duplicate_ids(tmp_path: Path) -> None:
    from instructkit.engines import local
    from instructkit.io.read import ReadOptions

    rows = [
        {
            "id": "same",
            "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
        }
    ] * 2
    rows.append(
        {
            "id": "big",
            "conversations": [{"from": "human", "value": "x" * 500}, {"from": "gpt", "value": "y"}],
        }
    )
    src = write_jsonl(tmp_path / "s.jsonl", rows)
    summary = local.run(
        [str(src)], tmp_path / "o.jsonl", [], read_options=ReadOptions(max_record_chars=100)
    )
    assert summary["rejected"] == {"too_large": 1} and summary["records_out"] == 2
    assert summary["ids_renamed"] == 1  # both kept, the second one renamed by the id rule
    assert [r["id"] for r in read_jsonl(tmp_path / "o.jsonl")] == ["same", "s/same"]


def test_size_limit_holds_on_the_block_fast_path(tmp_path: Path) -> None:
    """Plain Alpaca lines take the block parser; one over the limit must still be rejected."""
    from instructkit.engines import local
    from instructkit.io.read import ReadOptions

    rows = ROWS[:5] + [{"instruction": "Long one.", "input": "", "output": "z" * 500}]
    src = write_jsonl(tmp_path / "a.jsonl", rows)
    summary = local.run(
        [str(src)], tmp_path / "o.jsonl", [], read_options=ReadOptions(max_record_chars=300)
    )
    assert summary["rejected"] == {"too_large": 1} and summary["records_out"] == 5


def test_unknown_format_and_usage_errors(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "odd.jsonl", [{"foo": 1}, {"bar": 2}])
    summary = instructkit.convert(str(src), tmp_path / "o.jsonl")
    assert summary["rejected"] == {"unknown_format": 2}
    with pytest.raises(InstructkitError, match="no such file"):
        instructkit.convert(str(tmp_path / "missing.jsonl"), tmp_path / "o.jsonl")
    with pytest.raises(InstructkitError, match="unsupported file type"):
        (tmp_path / "x.xml").write_text("<a/>")
        instructkit.convert(str(tmp_path / "x.xml"), tmp_path / "o.jsonl")
    with pytest.raises(InstructkitError, match="unknown format"):
        instructkit.convert(str(src), tmp_path / "o.jsonl", fmt="nope")


def test_hf_local_dataset(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="the hf extra is not installed")
    ds = datasets.Dataset.from_list(ROWS[:6])
    ds.save_to_disk(str(tmp_path / "ds"))
    recs = instructkit.read_records(f"hf:{tmp_path / 'ds'}")
    assert len(recs) == 6 and recs[0]["source"] == "ds"
    # A folder of data files goes through datasets.load_dataset, the same call as for the hub.
    (tmp_path / "hubish").mkdir()
    write_jsonl(tmp_path / "hubish" / "train.jsonl", ROWS[:4])
    assert len(instructkit.read_records(f"hf:{tmp_path / 'hubish'}:train")) == 4


def test_block_fast_path_falls_back_with_true_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain Alpaca lines are parsed a block at a time; a block holding a bad line is re-read line
    by line, and the reject still names the line it was on."""
    from instructkit.io import rows

    monkeypatch.setattr(rows, "BLOCK_BYTES", 300)
    lines = [json.dumps(r) for r in ROWS]
    lines[16] = '{"instruction": "broken'
    src = tmp_path / "p.jsonl"
    src.write_text("\n".join(lines) + "\n")
    summary = instructkit.convert(str(src), tmp_path / "o.jsonl")
    assert summary["records_out"] == len(ROWS) - 1
    (rej,) = read_jsonl(tmp_path / "o.rejects.jsonl")
    assert rej["detail"].startswith(f"{src}:17:")
    fast = [r["id"] for r in read_jsonl(tmp_path / "o.jsonl")]
    monkeypatch.setattr(rows, "BLOCK_BYTES", 1 << 30)
    slow = [r["id"] for r in instructkit.read_records(str(src), fmt="alpaca")]
    assert fast == slow  # the same ids whichever path a row took


def test_temp_files_of_killed_runs_are_swept(tmp_path: Path) -> None:
    """A run killed with SIGKILL leaves ``.out.jsonl.tmp-PID``; the next run removes it, but never
    the temporary file of a process that is still running."""
    import os
    import subprocess

    finished = subprocess.Popen(["true"])
    finished.wait()  # its pid no longer names a process
    stale = tmp_path / f".out.jsonl.tmp-{finished.pid}"
    stale.write_text("half")
    in_use = tmp_path / f".out.rejects.jsonl.tmp-{os.getppid()}"  # the parent process is alive
    in_use.write_text("in use")
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[:2])
    instructkit.convert(str(src), tmp_path / "out.jsonl")
    assert not stale.exists() and in_use.exists()
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 2
