"""On-disk cache of built benchmark indexes, keyed by their content.

The key hashes the benchmark's items (ids and texts) with the build parameters
(n, embedding model, format version), so a changed benchmark file or option
builds a new entry and a stale one is never used.  Entries are ``.npz`` files
(no pickle) written to a temporary name and renamed, so concurrent runs are safe.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from instructkit.decontam.benchmarks import Benchmark

#: Bump an entry when its stored arrays change meaning (n-grams: normalisation, hashing, indexed forms).
VERSIONS = {"ngram": "4", "embed": "1", "lexical": "2", "vectors": "1"}

T = TypeVar("T")


def default_dir() -> Path:
    """``$INSTRUCTKIT_CACHE`` or ``$XDG_CACHE_HOME/instructkit`` (``~/.cache/instructkit``), then ``decontam``."""
    base = (
        os.environ.get("INSTRUCTKIT_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "instructkit"
    )
    return Path(base) / "decontam"


def key(bench: Benchmark, kind: str, *params: object) -> str:
    h = hashlib.sha256(f"{VERSIONS[kind]}|{kind}|{params!r}".encode())
    texts = bench.fields if kind == "ngram" else bench.embed  # lexical, vectors: embed texts
    for item_id, ts in zip(bench.ids, texts, strict=True):
        h.update(item_id.encode("utf-8", "surrogatepass") + b"\x1e")
        for t in ts:
            h.update(t.encode("utf-8", "surrogatepass") + b"\x1f")
    return f"{bench.name}-{kind}-{h.hexdigest()[:20]}"


def cached(
    directory: Path | None,
    name: str,
    build: Callable[[], T],
    to_arrays: Callable[[T], dict[str, np.ndarray]],
    from_arrays: Callable[[dict[str, np.ndarray]], T],
) -> tuple[T, bool]:
    """Load entry ``name`` or build and store it; returns (value, whether it came from the cache)."""
    if directory is None:
        return build(), False
    path = directory / f"{name}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return from_arrays({k: z[k] for k in z.files}), True
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a corrupt entry is rebuilt, not trusted
    value = build()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{name}.tmp-{os.getpid()}.npz"
        np.savez(tmp, **to_arrays(value))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs a rebuild next time
    return value, False


class VectorStore:
    """Sentence-encoder vectors of benchmark texts, encoded on demand and saved as they come.

    Only the texts some turn is a candidate for are ever encoded, and the file
    is rewritten (temporary name, then rename) after every ``chunk`` texts, so
    a run killed while encoding keeps what it finished: the next run starts
    where it stopped instead of from zero.
    """

    def __init__(self, directory: Path | None, name: str, rows: int) -> None:
        self.path = None if directory is None else directory / f"{name}.npz"
        self.vectors: np.ndarray | None = None
        self.done = np.zeros(rows, bool)
        self.loaded = 0
        if self.path is not None and self.path.is_file():
            try:
                with np.load(self.path, allow_pickle=False) as z:
                    self.vectors, self.done = z["vectors"], z["done"]
                self.loaded = int(self.done.sum())
            except (OSError, ValueError, KeyError):
                self.path.unlink(missing_ok=True)
                self.vectors, self.done = None, np.zeros(rows, bool)

    def get(
        self,
        rows: np.ndarray,
        texts: Callable[[np.ndarray], list[str]],
        encode: Callable[[list[str]], np.ndarray],
        chunk: int = 1024,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Vectors of ``rows`` (benchmark text rows), encoding the missing ones ``chunk`` at a time."""
        missing = np.unique(rows[~self.done[rows]]) if len(rows) else rows
        for s in range(0, len(missing), chunk):
            part = missing[s : s + chunk]
            vecs = encode(texts(part))
            if self.vectors is None:
                self.vectors = np.zeros((len(self.done), vecs.shape[1]), np.float32)
            self.vectors[part] = vecs
            self.done[part] = True
            self._save()
            if progress is not None:
                progress(min(s + chunk, len(missing)), len(missing))
        if self.vectors is None:
            return np.zeros((len(rows), 0), np.float32)
        return self.vectors[rows]

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.parent / f".{self.path.stem}.tmp-{os.getpid()}.npz"
            np.savez(tmp, vectors=self.vectors, done=self.done)
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only cache only costs encoding again next time
