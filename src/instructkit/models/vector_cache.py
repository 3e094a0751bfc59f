"""A content-keyed on-disk cache of embeddings: one folder per model, xxh3 of the text -> vector.

Each :meth:`VectorCache.add` writes one ``.npz`` shard (sorted 64-bit text keys and
their float32 vectors, no pickle) to a temporary name and renames it, so
concurrent runs never see half a shard; past :data:`MAX_SHARDS` the shards are
merged into one.  A lookup is one ``searchsorted`` over all keys.  Keys are
64-bit xxh3 hashes of the UTF-8 text: the chance of any collision among ten
million distinct texts is about 3e-6.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

#: Merge the shards into one when there are more than this many.
MAX_SHARDS = 16

#: Loaded shards per folder, reused while the folder's shard list is unchanged.
_memo: dict[Path, tuple[tuple[str, ...], np.ndarray, np.ndarray]] = {}


def cache_root() -> Path:
    """``$INSTRUCTKIT_CACHE``, else ``$XDG_CACHE_HOME/instructkit`` (``~/.cache/instructkit``)."""
    base = os.environ.get("INSTRUCTKIT_CACHE") or (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "instructkit"
    )
    return Path(base)


def text_keys(texts: list[str] | pa.Array) -> np.ndarray:
    """The cache key of each text: xxh3-64 of its UTF-8 bytes (a null Arrow entry counts as "").

    An Arrow string array is hashed straight from its data buffer (no Python
    string per record, no re-encoding): the same keys, several times faster."""
    h = xxhash.xxh3_64_intdigest
    if isinstance(texts, pa.Array):
        offsets, data = string_buffers(texts)
        view = memoryview(data)
        bounds = zip(offsets[:-1].tolist(), offsets[1:].tolist())
        return np.fromiter((h(view[a:b]) for a, b in bounds), dtype=np.uint64, count=len(texts))
    return np.fromiter(
        (h(t.encode("utf-8", "surrogatepass")) for t in texts), dtype=np.uint64, count=len(texts)
    )


def string_buffers(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 offsets, length n + 1, into the uint8 UTF-8 data) of an Arrow string array; a null
    entry is an empty text."""
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        raise TypeError(f"expected an Arrow string array, not {texts.type}")
    if texts.null_count:  # a null's slot may still hold bytes
        texts = pc.fill_null(texts, "")
    _, off_buf, data_buf = texts.buffers()
    wide = pa.types.is_large_string(texts.type)
    if off_buf is None:  # an empty array may come without buffers
        return np.zeros(1, np.int64), np.zeros(0, np.uint8)
    offsets = np.frombuffer(off_buf, np.int64 if wide else np.int32)
    offsets = offsets[texts.offset : texts.offset + len(texts) + 1].astype(np.int64)
    data = np.zeros(0, np.uint8) if data_buf is None else np.frombuffer(data_buf, np.uint8)
    return offsets, data


def _folder_name(tag: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", tag)[:60]
    return f"{safe}-{hashlib.sha256(tag.encode()).hexdigest()[:8]}"


class VectorCache:
    """The cached vectors of one model (``tag`` names the model and anything that changes its vectors)."""

    def __init__(self, tag: str, root: Path | None = None) -> None:
        self.dir = (root or cache_root()) / "embeddings" / _folder_name(tag)

    def _shards(self) -> tuple[str, ...]:
        try:
            return tuple(sorted(p.name for p in self.dir.glob("*.npz")))
        except OSError:
            return ()

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        """All cached (keys, vectors), keys sorted and unique; shards of another width are ignored."""
        names = self._shards()
        memo = _memo.get(self.dir)
        if memo and memo[0] == names:
            return memo[1], memo[2]
        keys, vecs = [], []
        for name in names:
            try:
                with np.load(self.dir / name, allow_pickle=False) as z:
                    k, v = z["keys"], z["vectors"]
            except (OSError, ValueError, KeyError):
                continue  # merged away by another process, or damaged: a miss, never a wrong vector
            if vecs and v.shape[1] != vecs[-1].shape[1]:
                continue
            keys.append(k)
            vecs.append(v)
        if not keys:
            return np.zeros(0, np.uint64), np.zeros((0, 0), np.float32)
        all_keys = np.concatenate(keys)
        all_keys, first = np.unique(all_keys, return_index=True)
        all_vecs = np.concatenate(vecs)[first]
        _memo[self.dir] = (names, all_keys, all_vecs)
        return all_keys, all_vecs

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """(vectors with the found rows filled, or None when the cache is empty; found mask)."""
        cached_keys, cached_vecs = self._load()
        if not len(cached_keys):
            return None, np.zeros(len(keys), bool)
        pos = np.minimum(np.searchsorted(cached_keys, keys), len(cached_keys) - 1)
        found = cached_keys[pos] == keys
        vectors = np.zeros((len(keys), cached_vecs.shape[1]), np.float32)
        vectors[found] = cached_vecs[pos[found]]
        return vectors, found

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Store new vectors as one shard; a cache that cannot be written only costs a re-encode."""
        if not len(keys):
            return
        order = np.argsort(keys, kind="stable")
        try:
            self._write(f"{os.getpid()}-{os.urandom(6).hex()}", keys[order], vectors[order])
            if len(self._shards()) > MAX_SHARDS:
                self._compact()
        except OSError:
            pass

    def _write(self, stem: str, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".{stem}.tmp"
        with open(tmp, "wb") as f:
            np.savez(f, keys=keys, vectors=np.asarray(vectors, np.float32))
        os.replace(tmp, self.dir / f"{stem}.npz")

    def _compact(self) -> None:
        """Merge every shard into one: write the merged shard first, then remove the parts."""
        names = self._shards()
        keys, vectors = self._load()
        self._write(f"merged-{os.getpid()}-{os.urandom(6).hex()}", keys, vectors)
        for name in names:
            (self.dir / name).unlink(missing_ok=True)
