"""Rejects and summaries: the bookkeeping that makes "records in = out + rejected" hold.

Every step hands back the rows it did not keep as :class:`Reject` objects; a
:class:`RunLog` writes them as they come (so a crash loses no evidence) and
produces the summary file at the end.  Output files are written to a temporary
name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from instructkit.errors import StrictError


@dataclass(slots=True)
class Reject:
    """A row that did not make it: which step, why (a short code), and a detail a person can act on."""

    step: str
    reason: str
    detail: str
    record: dict[str, Any] | None = None
    line: str | None = None

    def to_json(self) -> bytes:
        d: dict[str, Any] = {"step": self.step, "reason": self.reason, "detail": self.detail}
        if self.record is not None:
            d["record"] = self.record
        if self.line is not None:
            d["line"] = self.line
        return orjson.dumps(d, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY)


def sidecar(output: Path, kind: str, ext: str = ".jsonl") -> Path:
    """``out/data.jsonl`` -> ``out/data.KIND.jsonl``: the one rule for every file beside an output."""
    stem = output.name
    for compression in (".gz", ".zst"):
        stem = stem.removesuffix(compression)
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return output.with_name(f"{stem}.{kind}{ext}")


def sidecar_paths(output: Path) -> tuple[Path, Path]:
    """``out/data.jsonl`` -> (``out/data.rejects.jsonl``, ``out/data.summary.json``), as the spec says."""
    return sidecar(output, "rejects"), sidecar(output, "summary", ".json")


def temp_path(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place: ``.NAME.tmp-PID`` beside it.

    A run killed with SIGKILL cannot remove its temporary files, so each new one
    first sweeps those of processes that no longer exist.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def atomic_open(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write to a temporary file and rename on success; remove it on failure."""
    tmp = temp_path(path)
    try:
        with open(tmp, mode) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass
class RunLog:
    """Collects rejects, counts and timings for one command; writes the rejects file as it goes."""

    rejects_path: Path | None
    summary_path: Path | None
    strict: bool = False
    records_in: int = 0
    records_out: int = 0
    #: Records created by a step (Evol-Instruct children): in + generated = out + rejected.
    generated: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    #: Evidence files beside the output by kind (``hits`` -> ``STEM.hits.jsonl``), written like the rejects.
    sidecar_paths: dict[str, Path] = field(default_factory=dict)
    _fh: IO[bytes] | None = None
    _tmp: Path | None = None
    _sidecars: dict[str, tuple[Path, IO[bytes]]] = field(default_factory=dict)
    _started: float = field(default_factory=time.perf_counter)

    def __enter__(self) -> RunLog:
        if self.rejects_path is not None:
            self._tmp = temp_path(self.rejects_path)
            self._fh = open(self._tmp, "wb")
        for kind, path in self.sidecar_paths.items():
            tmp = temp_path(path)
            self._sidecars[kind] = (tmp, open(tmp, "wb"))
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._fh is not None and self._tmp is not None and self.rejects_path is not None:
            self._fh.close()
            # Rejects are evidence: keep them even when the run failed half-way.
            os.replace(self._tmp, self.rejects_path)
        for kind, (tmp, fh) in self._sidecars.items():
            fh.close()
            os.replace(tmp, self.sidecar_paths[kind])
        if exc_type is None and self.summary_path is not None:
            self.write_summary()

    def write_sidecar(self, kind: str, rows: list[dict[str, Any]]) -> None:
        """Append evidence rows (hits, selections) to the ``kind`` file declared when the log opened."""
        _, fh = self._sidecars[kind]
        for row in rows:
            fh.write(
                orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY)
            )

    def reject(self, rej: Reject) -> None:
        if self.strict:
            raise StrictError(f"{rej.reason}: {rej.detail}")
        if self._fh is not None:
            self._fh.write(rej.to_json())
        self.rejected[rej.reason] += 1

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - t0

    def summary(self) -> dict[str, Any]:
        total_rejected = sum(self.rejected.values())
        return {
            "records_in": self.records_in,
            "records_out": self.records_out,
            "generated": self.generated,
            "rejected": dict(sorted(self.rejected.items())),
            "rejected_total": total_rejected,
            "balanced": self.records_in + self.generated == self.records_out + total_rejected,
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()}
            | {"total": round(time.perf_counter() - self._started, 4)},
            **self.extra,
        }

    def write_summary(self) -> None:
        assert self.summary_path is not None
        with atomic_open(self.summary_path) as fh:
            fh.write(
                orjson.dumps(
                    self.summary(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
                )
            )
