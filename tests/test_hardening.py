"""Regression tests for the new-user / adversary probe (issue #16, report D1-D26).

Each test names the defect it pins down; each fails on the code before the fix.
The command line is driven in-process through ``main()`` (exit code, stdout and
stderr as a user sees them), or as a subprocess where a signal or a second
process is the point.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

import instructkit
from tests.helpers import ik, read_jsonl, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "data"


def alpaca(i: int) -> dict[str, str]:
    return {"instruction": f"Question number {i}?", "input": "", "output": f"Answer {i}."}


def summary_of(path: Path) -> dict[str, Any]:
    return json.loads(path.with_name(path.name.split(".")[0] + ".summary.json").read_text())


def rejects_of(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path.with_name(path.name.split(".")[0] + ".rejects.jsonl"))


def env() -> dict[str, str]:
    """The subprocess runs the same instructkit as this test process."""
    src = Path(instructkit.__file__).resolve().parents[1]
    return {**os.environ, "PYTHONPATH": str(src) + os.pathsep + str(ROOT)}


# --- D1: Ctrl-C ---------------------------------------------------------------------------


def test_d1_sigint_exits_130_with_one_line_and_no_files(tmp_path: Path) -> None:
    src = tmp_path / "big.json"
    rows = [alpaca(i) | {"pad": "x" * 200} for i in range(150_000)]
    src.write_text(json.dumps(rows))
    out = tmp_path / "out.jsonl"
    p = subprocess.Popen(
        [sys.executable, "-m", "instructkit", "convert", src, "-o", out],
        stderr=subprocess.PIPE,
        env=env(),
    )
    deadline = time.time() + 60
    while not list(tmp_path.glob(".out.jsonl.tmp-*")) and time.time() < deadline:
        time.sleep(0.05)  # wait until the run is writing
    p.send_signal(signal.SIGINT)
    code = p.wait(60)
    err = p.stderr.read().decode()  # type: ignore[union-attr]
    assert code == 130, err
    assert err.count("\n") == 1 and err.startswith("aborted:")
    assert sorted(f.name for f in tmp_path.iterdir() if not f.name.startswith(".")) == ["big.json"]
    assert not list(tmp_path.glob(".*.tmp-*"))


# --- D2 / D5: markup and control characters are plain text --------------------------------


def test_d2_markup_in_values_and_paths_is_shown_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(
        tmp_path / "[bold]src.jsonl",
        [{"instruction": "q", "context": "", "response": "a", "category": "[/]"}]
        + [
            {
                "instruction": "r",
                "context": "",
                "response": "b",
                "category": "[bold red]m[/bold red]",
            }
        ],
    )
    code, out, err = ik(capsys, "stats", src)
    assert code == 0, err
    assert "[/] 1" in out and "[bold red]m[/bold red] 1" in out and "[bold]src" in out
    folder = tmp_path / "x[/bold]"  # the folder "x[" holding "bold]"
    folder.mkdir(parents=True)
    write_jsonl(folder / "d.jsonl", [alpaca(1)])
    code, _, err = ik(capsys, "convert", folder, "-o", tmp_path / "cm.jsonl")
    assert code == 0 and "x[/bold]/d.jsonl" in err
    code, _, err = ik(capsys, "convert", tmp_path / "no[/]such.jsonl", "-o", tmp_path / "o.jsonl")
    assert code == 2 and err.count("\n") == 1 and "no[/]such.jsonl: no such file" in err


def test_d5_escape_sequences_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cat = "c\x1b]0;pwned\x07\x1b[2J\x9b31m"
    src = write_jsonl(
        tmp_path / "esc.jsonl",
        [{"instruction": "q", "context": "", "response": "a", "category": cat}],
    )
    code, out, _ = ik(capsys, "stats", src)
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "c\\x1b]0;pwned\\x07\\x1b[2J" in out
    code, _, err = ik(capsys, "convert", tmp_path / "zz\x1b[2Jzz.jsonl", "-o", tmp_path / "o.jsonl")
    assert code == 2 and "\x1b" not in err and "zz\\x1b[2Jzz.jsonl" in err


# --- D6 / D24: usage errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["select", "x", "-o", "y.jsonl"],
        ["convert", "in.jsonl"],
        ["convert", "in.jsonl", "-o", "x.jsonl", "--batch-size", "0"],
        ["convert", "in.jsonl", "-o", "x.jsonl", "--no-such-option"],
    ],
)
def test_d6_usage_errors_exit_2_with_one_line(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = ik(capsys, *args)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "internal error" not in err


def test_d6_bare_command_shows_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = ik(capsys)
    assert code == 2 and "convert" in out + err and "internal error" not in out + err


# --- D3 / D8 / D15 / D25: CSV ---------------------------------------------------------------


def test_d3_one_bad_byte_in_a_csv_costs_one_row(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    body = "".join(f"q{i},,a{i}\n" for i in range(3, 2001)).encode()
    src.write_bytes(b"instruction,input,output\nq1,,a1\nq2 caf\xe9,,a2\n" + body)
    summary = instructkit.convert(str(src), tmp_path / "bad.jsonl")
    assert summary["records_in"] == 2000 and summary["records_out"] == 1999
    [rej] = rejects_of(tmp_path / "bad.jsonl")
    assert rej["reason"] == "invalid_utf8" and f"{src}:3" in rej["detail"]
    assert rej["line"] == "q2 caf\\xe9,,a2"


def test_d8_an_oversized_csv_field_is_one_reject_and_reading_goes_on(tmp_path: Path) -> None:
    src = tmp_path / "bf.csv"
    after = "".join(f"after{i},,o{i}\n" for i in range(5))
    src.write_text("instruction,input,output\na,,b\nbig,," + "y" * 300_000 + "\n" + after)
    from instructkit.engines import local
    from instructkit.io.read import ReadOptions

    summary = local.run(
        [str(src)], tmp_path / "bf.jsonl", [], read_options=ReadOptions(max_record_chars=200_000)
    )
    assert summary["records_in"] == 7 and summary["records_out"] == 6
    assert summary["rejected"] == {"too_large": 1}
    assert f"{src}:3" in rejects_of(tmp_path / "bf.jsonl")[0]["detail"]


def test_d15_utf8_bom_is_ignored(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    row = json.dumps(alpaca(1)).encode()
    cases = {
        "bom.jsonl": bom + row + b"\n",
        "bom.csv": bom + b"instruction,input,output\nhello,,world\n",
        "bomo.json": bom + row,
        "boma.json": bom + b"[" + row + b"]",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        summary = instructkit.convert(str(tmp_path / name), tmp_path / f"o_{name}.jsonl")
        assert summary["records_out"] == 1 and summary["rejected"] == {}, name


def test_d25_extra_csv_cells_keep_the_line_itself(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text('instruction,input,output\nq,,a,EXTRA\n"q2",,a2\n')
    summary = instructkit.convert(str(src), tmp_path / "x.jsonl")
    assert summary["records_out"] == 1
    [rej] = rejects_of(tmp_path / "x.jsonl")
    assert rej["reason"] == "wrong_type" and rej["line"] == "q,,a,EXTRA"


# --- D4 / D9: damaged compressed and Parquet inputs -----------------------------------------


def _lines(n: int, pad: int = 0) -> bytes:
    """JSON lines; ``pad`` random characters per row keep the stream from compressing to nothing."""
    import random

    rnd = random.Random(1)
    return "".join(
        json.dumps(alpaca(i) | {"pad": "".join(rnd.choice("abcdefgh ") for _ in range(pad))}) + "\n"
        for i in range(n)
    ).encode()


def test_d4_truncated_gzip_keeps_the_rows_before_the_cut(tmp_path: Path) -> None:
    data = gzip.compress(_lines(3000))
    src = tmp_path / "t.jsonl.gz"
    src.write_bytes(data[: len(data) // 2])
    recoverable = subprocess.run(["zcat"], input=src.read_bytes(), capture_output=True).stdout
    summary = instructkit.convert(str(src), tmp_path / "tg.jsonl")
    assert summary["records_out"] == recoverable.count(b"\n") > 1000
    assert summary["rejected"] == {"truncated": 1}
    [rej] = rejects_of(tmp_path / "tg.jsonl")
    assert str(src) in rej["detail"] and f"after line {summary['records_out']}" in rej["detail"]


def test_d4_truncated_zstd_is_never_silent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = zstandard.ZstdCompressor().compress(_lines(2000, pad=200))
    src = tmp_path / "t.jsonl.zst"
    src.write_bytes(data[: len(data) // 2])
    summary = instructkit.convert(str(src), tmp_path / "tz.jsonl")
    assert summary["records_out"] > 100 and summary["rejected"] == {"truncated": 1}
    small = zstandard.ZstdCompressor().compress(_lines(3000))
    tiny = tmp_path / "tiny.jsonl.zst"
    tiny.write_bytes(small[: len(small) // 2])  # nothing before the cut can be decoded
    code, _, err = ik(capsys, "convert", tiny, "-o", tmp_path / "tiny.jsonl")
    assert code == 2 and err.count("\n") == 1 and "tiny.jsonl.zst" in err


def test_d9_unreadable_inputs_exit_2_and_corrupt_parts_are_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "n.jsonl.gz").write_text("not gzip\n")
    code, _, err = ik(capsys, "convert", tmp_path / "n.jsonl.gz", "-o", tmp_path / "n.jsonl")
    assert code == 2 and "n.jsonl.gz" in err and err.count("\n") == 1
    zst = bytearray(zstandard.ZstdCompressor().compress(_lines(2000, pad=200)))
    zst[len(zst) // 2 : len(zst) // 2 + 50] = b"x" * 50
    (tmp_path / "c.jsonl.zst").write_bytes(zst)
    summary = instructkit.convert(str(tmp_path / "c.jsonl.zst"), tmp_path / "cz.jsonl")
    assert summary["records_out"] > 100 and summary["rejected"] == {"corrupt": 1}
    table = pa.Table.from_pylist([alpaca(i) for i in range(3000)])
    pq.write_table(table, tmp_path / "g.parquet", row_group_size=500)
    raw = bytearray((tmp_path / "g.parquet").read_bytes())
    for k in range(len(raw) // 2, len(raw) // 2 + 400):
        raw[k] ^= 0x55
    (tmp_path / "c.parquet").write_bytes(raw)
    code, _, err = ik(capsys, "convert", tmp_path / "c.parquet", "-o", tmp_path / "cp.jsonl")
    assert code == 0, err
    summary = summary_of(tmp_path / "cp.jsonl")
    assert summary["rejected"] == {"corrupt": 1} and summary["records_out"] == 2500
    assert "row group" in rejects_of(tmp_path / "cp.jsonl")[0]["detail"]


# --- D7 / D8 / D17: JSON ----------------------------------------------------------------------


def test_d7_deep_nesting_is_one_reject(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "d.jsonl").write_text(
        json.dumps(alpaca(0))
        + "\n"
        + deep
        + "\n"
        + json.dumps(alpaca(1))[:-1]
        + ', "x": '
        + deep
        + "}\n"
    )
    (tmp_path / "d.json").write_text(
        "[" + json.dumps(alpaca(0)) + "," + deep + "," + json.dumps(alpaca(1)) + "]"
    )
    for name in ("d.jsonl", "d.json"):
        summary = instructkit.convert(str(tmp_path / name), tmp_path / f"o_{name}.jsonl")
        assert summary["records_out"] == 1 + (name == "d.json"), name
        assert set(summary["rejected"]) == {"too_deep"}, name


def test_d8_a_malformed_array_element_does_not_lose_the_rest(tmp_path: Path) -> None:
    good = [json.dumps(alpaca(i)) for i in range(5)]
    bad = '{"instruction": "bad" "output": "x"}'
    (tmp_path / "bm.json").write_text("[" + ",".join(good[:2] + [bad] + good[2:]) + "]")
    summary = instructkit.convert(str(tmp_path / "bm.json"), tmp_path / "bm.jsonl")
    assert summary["records_in"] == 6 and summary["records_out"] == 5
    [rej] = rejects_of(tmp_path / "bm.jsonl")
    assert rej["reason"] == "invalid_json" and "element 2" in rej["detail"]
    assert rej["line"] == bad


def test_d17_invalid_utf8_in_a_json_file_is_rejected_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "bu.json").write_bytes(
        b'[{"instruction":"caf\xe9 \xff","input":"","output":"x"},'
        + json.dumps(alpaca(1)).encode()
        + b"]"
    )
    summary = instructkit.convert(str(tmp_path / "bu.json"), tmp_path / "bu.jsonl")
    assert summary["records_out"] == 1 and summary["rejected"] == {"invalid_utf8": 1}
    assert "\ufffd" not in (tmp_path / "bu.jsonl").read_text()


# --- D10: lossless export ------------------------------------------------------------------


def test_d10_to_dolly_keeps_every_turn_or_rejects(tmp_path: Path) -> None:
    recs = tmp_path / "all.jsonl"
    instructkit.convert(str(EXAMPLES), recs)
    summary = instructkit.convert(str(recs), tmp_path / "dolly.jsonl", to="dolly")
    assert summary["balanced"]
    rows = read_jsonl(tmp_path / "dolly.jsonl")
    greet = next(r for r in rows if r["instruction"] == "Greet the user.")
    assert greet["system"] == "Be brief." and greet["history"] == [["Hi", "Hi there."]]
    lossy = rejects_of(tmp_path / "dolly.jsonl")
    assert lossy and {r["reason"] for r in lossy} == {"lossy_export"}
    assert summary["records_out"] + len(lossy) == summary["records_in"]
    instructkit.convert(str(tmp_path / "dolly.jsonl"), tmp_path / "back.jsonl")
    before = {json.dumps(r["messages"]) for r in read_jsonl(recs)}
    after = [json.dumps(r["messages"]) for r in read_jsonl(tmp_path / "back.jsonl")]
    assert all(m in before for m in after)


# --- D11 / D12 / D16 / D19 / D21 / D25: the files of a run ----------------------------------


def test_d11_sidecar_paths_that_collide_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(tmp_path / "inp.jsonl", [alpaca(1), {"instruction": []}])
    before = src.read_bytes()
    for extra in (
        ["-o", tmp_path / "out.jsonl", "--rejects", src],
        ["-o", tmp_path / "c2.jsonl", "--summary", tmp_path / "c2.jsonl"],
        ["-o", tmp_path / "c3.jsonl", "--rejects", tmp_path / "c3.jsonl"],
    ):
        code, _, err = ik(capsys, "convert", src, *extra)
        assert code == 2 and err.count("\n") == 1, err
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inp.jsonl"]


def test_d12_a_failed_run_leaves_the_previous_set_intact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [alpaca(1)])
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [alpaca(2), {"instruction": []}])
    (tmp_path / "garbage.parquet").write_text("garbage")
    out = tmp_path / "st.jsonl"
    assert ik(capsys, "convert", good, "-o", out)[0] == 0
    files = {
        p: p.read_bytes()
        for p in (out, tmp_path / "st.rejects.jsonl", tmp_path / "st.summary.json")
    }
    code, _, _ = ik(capsys, "convert", mixed, tmp_path / "garbage.parquet", "-o", out)
    assert code == 2
    assert {p: p.read_bytes() for p in files} == files
    assert not list(tmp_path.glob(".*.tmp-*"))


def test_d16_a_second_run_on_the_same_output_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from instructkit.accounting import output_lock

    src = write_jsonl(tmp_path / "a.jsonl", [alpaca(1)])
    with output_lock(tmp_path / "cc.jsonl"):
        code, _, err = ik(capsys, "convert", src, "-o", tmp_path / "cc.jsonl")
    assert code == 2 and "another instructkit run" in err
    assert ik(capsys, "convert", src, "-o", tmp_path / "cc.jsonl")[0] == 0


def test_d19_output_that_cannot_be_written_is_exit_2_without_litter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", [alpaca(1)])
    (tmp_path / "isdir.jsonl").mkdir()
    code, _, err = ik(capsys, "convert", src, "-o", tmp_path / "isdir.jsonl")
    assert code == 2 and "is a folder" in err
    (tmp_path / "file").write_text("")
    code, _, err = ik(capsys, "convert", src, "-o", tmp_path / "file" / "o.jsonl")
    assert code == 2 and err.count("\n") == 1 and "internal" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "file", "isdir.jsonl"]


def test_d21_a_folder_rerun_does_not_read_its_own_output(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [alpaca(1), alpaca(2)])
    for _ in range(3):
        assert instructkit.convert(str(folder), folder / "all.jsonl")["records_out"] == 2


def test_d25_no_litter_after_usage_errors_and_clear_non_file_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", [alpaca(1)])
    code, _, err = ik(capsys, "convert", src, "-o", tmp_path / "o.jsonl", "--to", "bogus")
    assert code == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl"]
    code, _, err = ik(capsys, "convert", "/dev/null", "-o", tmp_path / "o.jsonl")
    assert code == 2 and "not a regular file" in err
    code, _, err = ik(capsys, "convert", "-", "-o", tmp_path / "o.jsonl")
    assert code == 2 and "standard input" in err


def test_d25_a_turn_of_zero_width_characters_is_empty(tmp_path: Path) -> None:
    rows = [alpaca(1), {"instruction": "q", "input": "", "output": "\u200b\u200b"}] + [
        alpaca(i) for i in range(2, 6)
    ]
    summary = instructkit.convert(
        str(write_jsonl(tmp_path / "z.jsonl", rows)), tmp_path / "o.jsonl"
    )
    assert summary["rejected"] == {"empty_turn": 1} and summary["records_out"] == 5


# --- D14 / D18: the LLM client -------------------------------------------------------------


class _EchoAuth(BaseHTTPRequestHandler):
    """Answers every chat call with a 500 whose body echoes the Authorization header."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._send(200, {"data": []})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self._send(500, {"error": {"message": f"bad auth {self.headers.get('authorization')}"}})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def echo_server() -> Any:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _EchoAuth)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


def test_d14_d18_all_calls_failing_is_exit_2_and_no_secret_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], echo_server: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-SECRET-abc123XYZ")
    seeds = write_jsonl(tmp_path / "seeds.jsonl", [alpaca(i) for i in range(3)])
    url = echo_server.replace("http://", "http://user:hunter2@")
    code, out, err = ik(
        capsys, "evolve", seeds, "-o", tmp_path / "e.jsonl", "--base-url", url, "--model", "m",
        "--rounds", "1", "--max-retries", "1",
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1, err
    assert "SECRET" not in out + err and "hunter2" not in out + err
    for f in tmp_path.iterdir():
        if f.is_file() and f.suffix != ".sqlite":
            assert b"SECRET" not in f.read_bytes() and b"hunter2" not in f.read_bytes(), f


def test_d14_a_hanging_server_costs_seconds_not_minutes(tmp_path: Path, capsys: Any) -> None:
    from tests.fake_llm_server import FakeLLMServer

    seeds = write_jsonl(tmp_path / "seeds.jsonl", [alpaca(i) for i in range(3)])
    with FakeLLMServer(hang_after=0, max_wait=30) as srv:
        t0 = time.perf_counter()
        code, _, err = ik(
            capsys, "evolve", seeds, "-o", tmp_path / "e.jsonl", "--base-url", srv.base_url,
            "--model", "m", "--rounds", "1", "--timeout", "1",
        )  # fmt: skip
        took = time.perf_counter() - t0
    assert code == 2 and "answered none" in err
    assert took < 15  # before: 7 attempts x timeout per call (36.8 s with --timeout 2)


def test_d18_redact() -> None:
    from instructkit.llm.client import redact, safe_url

    assert safe_url("http://user:hunter2@host:8/v1") == "http://***@host:8/v1"
    text = 'auth "Bearer sk-SECRET-abc123XYZ" at http://u:pw@h/v1 key=abcdef123456'
    clean = redact(text, "abcdef123456")
    assert "SECRET" not in clean and "pw@" not in clean and "abcdef123456" not in clean


# --- D20 / D22: readable, quiet output -----------------------------------------------------


def test_d20_piped_stats_and_help_are_never_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {
            "instruction": "word " * 5000,
            "context": "",
            "response": "x " * 123456,
            "category": "c" * 90,
        }
    ]
    src = write_jsonl(tmp_path / "a_rather_long_source_name_for_a_table.jsonl", rows)
    code, out, _ = ik(capsys, "stats", src)
    assert code == 0 and "…" not in out and "123,456.00" in out and "c" * 90 in out
    proc = subprocess.run(
        [sys.executable, "-m", "instructkit", "evolve", "--help"],
        capture_output=True, text=True, env=env() | {"COLUMNS": "80"},
    )  # fmt: skip
    assert proc.returncode == 0 and "…" not in proc.stdout and "--base-url" in proc.stdout


def test_d22_library_progress_and_logs_are_off_and_errors_are_one_line() -> None:
    from instructkit.cli.console import one_line

    assert os.environ.get("TQDM_DISABLE") == "1" and os.environ.get("HF_HUB_VERBOSITY") == "error"
    assert one_line("pattern library x.yaml is malformed:\n  could not\n   determine") == (
        "pattern library x.yaml is malformed: could not determine"
    )


# --- D23: unique ids ------------------------------------------------------------------------


def test_d23_ids_are_unique_in_every_output(tmp_path: Path, capsys: Any) -> None:
    code, _, err = ik(capsys, "convert", EXAMPLES, "-o", tmp_path / "all.jsonl")
    recs = read_jsonl(tmp_path / "all.jsonl")
    ids = [r["id"] for r in recs]
    assert code == 0 and len(set(ids)) == len(ids)
    renamed = summary_of(tmp_path / "all.jsonl")["ids_renamed"]
    assert renamed == sum("/" in i for i in ids if not i.startswith(("chat", "oasst"))) > 0
    assert "ids made unique" in err and "duplicate ids" not in err
    code, _, err = ik(capsys, "convert", tmp_path / "all.jsonl", "-o", tmp_path / "again.jsonl")
    assert [r["id"] for r in read_jsonl(tmp_path / "again.jsonl")] == ids  # stable
    assert "ids made unique" not in err  # nothing to say


def test_d23_the_id_rule() -> None:
    from instructkit.io.read import UniqueIds

    rule = UniqueIds()
    recs = [{"id": "1", "source": s} for s in ("a", "b", "a", "a", "b")]
    rule.assign(recs)  # type: ignore[arg-type]
    assert [r["id"] for r in recs] == ["1", "b/1", "a/1", "a/1~2", "b/1~2"]
    assert rule.renamed == 4


# --- instruction-only records -----------------------------------------------------------------


def test_instruction_only_rows_are_user_only_records_written_back_the_same(tmp_path: Path) -> None:
    rows = [
        {"instruction": "List fruits."},
        {"instruction": "List trees.", "input": "", "output": ""},
        {"instruction": "Name a colour.", "input": "", "output": None},
        alpaca(1),
    ]
    src = write_jsonl(tmp_path / "a.jsonl", rows)
    summary = instructkit.convert(str(src), tmp_path / "r.jsonl")
    assert summary["records_out"] == 4 and summary["rejected"] == {}
    recs = read_jsonl(tmp_path / "r.jsonl")
    assert [[m["role"] for m in r["messages"]] for r in recs[:3]] == [["user"]] * 3
    instructkit.convert(str(tmp_path / "r.jsonl"), tmp_path / "back.jsonl", to="alpaca")
    assert [
        {k: v for k, v in r.items() if k != "id"} for r in read_jsonl(tmp_path / "back.jsonl")
    ] == rows
    dolly = [
        {"instruction": "q", "context": "c", "category": "x"},
        {"instruction": "r", "response": ""},
    ]
    summary = instructkit.convert(
        str(write_jsonl(tmp_path / "d.jsonl", dolly)), tmp_path / "d_r.jsonl"
    )
    assert summary["records_out"] == 2
    prompts = [{"prompt": "Tell a joke."}, {"prompt": "Tell a story.", "response": ""}]
    summary = instructkit.convert(
        str(write_jsonl(tmp_path / "p.jsonl", prompts)), tmp_path / "p_r.jsonl"
    )
    assert summary["records_out"] == 2


def test_txt_is_one_prompt_per_non_empty_line(tmp_path: Path) -> None:
    (tmp_path / "prompts.txt").write_bytes(
        b"\xef\xbb\xbfWrite a haiku.\r\n\n   \nExplain gravity.\nbad \xff byte\n"
    )
    summary = instructkit.convert(str(tmp_path / "prompts.txt"), tmp_path / "p.jsonl")
    assert summary["records_out"] == 2 and summary["rejected"] == {"invalid_utf8": 1}
    recs = read_jsonl(tmp_path / "p.jsonl")
    assert [r["messages"] for r in recs] == [
        [{"role": "user", "content": "Write a haiku."}],
        [{"role": "user", "content": "Explain gravity."}],
    ]
    # In a folder, .txt files are READMEs more often than prompts: only named ones are read.
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "README.txt").write_text("not data\n")
    write_jsonl(tmp_path / "d" / "a.jsonl", [alpaca(1)])
    assert instructkit.convert(str(tmp_path / "d"), tmp_path / "d.jsonl")["records_out"] == 1


def test_clean_rejects_an_instruction_only_record_as_no_response() -> None:
    from instructkit.clean.structure import repair

    _, finding = repair(
        {"id": "x", "source": "s", "messages": [{"role": "user", "content": "Hi"}], "meta": {}}
    )
    assert finding is not None and finding.reason == "no_response"
    _, finding = repair(
        {"id": "x", "source": "s", "meta": {}, "messages": [
            {"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]}
    )  # fmt: skip
    assert finding is not None and finding.reason == "no_response"


@pytest.mark.slow
def test_score_accepts_instruction_only_records_and_says_what_it_skipped(tmp_path: Path) -> None:
    from instructkit.engines import local
    from instructkit.steps.score import ScoreConfig, ScoreStep

    src = write_jsonl(
        tmp_path / "a.jsonl",
        [{"instruction": "List three fruits and explain why each one is healthy."}, alpaca(1),
         {"instruction": "请用三句话解释为什么天空是蓝色的，并举一个日常生活中的例子来说明。", "input": "", "output": "因为瑞利散射。"}],
    )  # fmt: skip
    step = ScoreStep(ScoreConfig(metrics=("complexity", "format")))
    summary = local.run([str(src)], tmp_path / "s.jsonl", [step])
    assert summary["records_out"] == 3
    skipped = summary["steps"]["score"]["skipped"]
    assert skipped["no_response"]["records"] == 1 and skipped["complexity_script"]["records"] == 1
    recs = read_jsonl(tmp_path / "s.jsonl")
    assert "complexity" in recs[0]["scores"] and not any(
        k.startswith("format.") for k in recs[0]["scores"]
    )
    assert not any(k.startswith("complexity") for k in recs[2].get("scores", {}))


# --- GSM8K truncation ---------------------------------------------------------------------------


def test_gsm8k_answers_are_not_truncated(shared_data: Path) -> None:
    from instructkit.clean.structure import is_truncated

    path = shared_data / "instructions" / "gsm8k_train_alpaca_format" / "gsm_8k_train.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    answers = [r["messages"][-1]["content"] for r in instructkit.read_records(str(path))]
    flagged = sum(is_truncated(a) is not None for a in answers)
    assert flagged / len(answers) < 0.005  # was 1,620 of 7,473 (21.7%)


def test_truncation_rule_still_catches_cut_prose() -> None:
    from instructkit.clean.structure import is_truncated

    assert is_truncated("So he lifted 160+16=176 kg per hand\nIn total he lifted 352 kg") is None
    assert is_truncated("#### 72") is None
    assert (
        is_truncated("The museum opens at nine and the guided tour starts at the") == "mid_sentence"
    )
    assert (
        is_truncated("Then you add the flour and slowly stir the mixture until") == "mid_sentence"
    )


def test_d25_an_unreachable_server_leaves_no_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = write_jsonl(tmp_path / "seeds.jsonl", [alpaca(1)])
    code, _, err = ik(
        capsys, "evolve", seeds, "-o", tmp_path / "e.jsonl", "--base-url",
        "http://user:hunter2@127.0.0.1:9/v1", "--model", "m",
    )  # fmt: skip
    assert code == 2 and "cannot reach" in err and "hunter2" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seeds.jsonl"]


@pytest.mark.slow
def test_d22_no_third_party_progress_bars_when_a_model_loads(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", [alpaca(1), alpaca(2)])
    proc = subprocess.run(
        [sys.executable, "-m", "instructkit", "dedup", src, "-o", tmp_path / "d.jsonl",
         "--method", "semantic"],
        capture_output=True, text=True, env=env(), timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Loading weights" not in proc.stderr and "it/s" not in proc.stderr


def test_evolve_takes_a_txt_prompt_list(tmp_path: Path) -> None:
    """Seed prompts as a plain .txt: instruction-only records evolve (and get answered)."""
    pytest.importorskip("openai")
    from instructkit.engines.local import run
    from instructkit.steps.evolve import EvolveStep
    from tests.evolve_fakes import SEEDS, evolve_responder
    from tests.fake_llm_server import FakeLLMServer

    (tmp_path / "seeds.txt").write_text("\n".join(SEEDS[:3]) + "\n")
    with FakeLLMServer(responder=evolve_responder) as srv:
        step = EvolveStep(
            base_url=srv.base_url, model="fake", timeout=5.0, rounds=1, seed=0, complexity=False,
            cache=tmp_path / "c.sqlite", client_options={"backoff_initial": 0.01, "backoff_max": 0.05},
        )  # fmt: skip
        summary = run([str(tmp_path / "seeds.txt")], tmp_path / "e.jsonl", [step])
    assert summary["records_in"] == 3 and summary["balanced"]
    children = [r for r in read_jsonl(tmp_path / "e.jsonl") if r.get("lineage")]
    assert children and all(r["messages"][-1]["role"] == "assistant" for r in children)
