"""Rejects and summaries: the bookkeeping that makes "records in = out + rejected" hold.

Every step hands back the rows it did not keep as :class:`Reject` objects; a
:class:`RunLog` streams them to a temporary file as they come and produces the
summary at the end.  Every file of a run is written to a temporary name and
renamed into place only when the run succeeds, so a failed or interrupted run
leaves the previous run's set as it was: never an output, rejects and summary
that describe different runs.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from instructkit.errors import InstructkitError, StrictError


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
        try:
            return orjson.dumps(d, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY)
        except orjson.JSONEncodeError:  # nested deeper than JSON encoders go: keep it as text
            d["record"] = _as_text(self.record)
            return orjson.dumps(d, option=orjson.OPT_APPEND_NEWLINE)


def _as_text(value: object) -> str:
    try:
        return repr(value)[:100_000]
    except RecursionError:
        return f"<{type(value).__name__} nested too deeply to show>"


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InstructkitError(f"{path.parent}: cannot create the folder ({e.strerror})") from None
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def open_temp(path: Path) -> tuple[Path, IO[bytes]]:
    """Create ``path``'s temporary file; a folder we cannot write to is the user's to fix (exit 2)."""
    tmp = temp_path(path)
    try:
        return tmp, open(tmp, "wb")
    except OSError as e:
        raise InstructkitError(f"{path}: cannot write here ({e.strerror})") from None


def check_paths(
    output: Path,
    rejects: Path,
    summary: Path,
    inputs: list[Path],
    extra: dict[str, Path] | None = None,
) -> None:
    """Refuse, before anything is written, a run whose files would overwrite each other or an
    input (``--rejects data.jsonl`` would replace the data with its rejects)."""
    if output.is_dir():
        raise InstructkitError(
            f"{output}: is a folder; -o takes a file path such as {output}/data.jsonl"
        )
    named = {"OUTPUT (-o)": output, "--rejects": rejects, "--summary": summary}
    named |= {f"the {kind} file": path for kind, path in (extra or {}).items()}
    seen: dict[Path, str] = {}
    for label, path in named.items():
        real = path.resolve()
        if real in seen:
            raise InstructkitError(
                f"{path}: used as both {seen[real]} and {label}; give each its own path"
            )
        seen[real] = label
        if label != "OUTPUT (-o)" and any(real == p.resolve() for p in inputs):
            raise InstructkitError(f"{path}: {label} is an input file; it would be overwritten")
        if real.is_dir():
            raise InstructkitError(f"{path}: {label} is a folder; give a file path")


@contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """One run at a time per OUTPUT: a second run writing the same files would mix its
    sidecars with the first's.  The lock is ``.NAME.lock`` beside OUTPUT (flock: released by
    the kernel if the process dies), removed at the end while still held; a run that locked
    a file removed meanwhile sees the inode differ from the path's and tries again."""
    lock = output.with_name(f".{output.name}.lock")
    for _ in range(10):
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            fh = open(lock, "a+b")
        except OSError as e:
            raise InstructkitError(f"{output}: cannot write here ({e.strerror})") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise InstructkitError(
                f"{output}: another instructkit run is writing this output; wait for it or choose another -o"
            ) from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fh.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        fh.close()
    else:
        raise InstructkitError(f"{output}: could not lock the output; try again")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        fh.close()


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
            self._tmp, self._fh = open_temp(self.rejects_path)
        for kind, path in self.sidecar_paths.items():
            self._sidecars[kind] = open_temp(path)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._fh is not None and self._tmp is not None and self.rejects_path is not None:
            self._fh.close()
        committed = [(self._tmp, self.rejects_path)] if self.rejects_path is not None else []
        for kind, (tmp, fh) in self._sidecars.items():
            fh.close()
            committed.append((tmp, self.sidecar_paths[kind]))
        for tmp, path in committed:
            if tmp is None:
                continue
            if exc_type is None:
                os.replace(tmp, path)
            else:  # a failed run keeps the previous run's files, not a mix of the two
                tmp.unlink(missing_ok=True)
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
        # A record left out by a selection is a choice, not a faulty row: --strict does not stop for it.
        if self.strict and rej.reason != "not_selected":
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
