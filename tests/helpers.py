"""Small helpers for tests: write rows in a given container, run the CLI in-process."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from instructkit.cli.app import app, main


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def read_jsonl(path: Path) -> list[Any]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()
    ]


def cli(*args: str) -> Any:
    """Run a command in-process; returns click's Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def ik(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run the CLI as ``instructkit ARGS`` in-process through ``main()`` (exit codes as a user
    sees them): (exit code, stdout, stderr)."""
    argv, handler = sys.argv, signal.getsignal(signal.SIGINT)
    sys.argv = ["instructkit", *map(str, args)]
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = argv
        signal.signal(signal.SIGINT, handler)
    out, err = capsys.readouterr()
    return code, out, err
