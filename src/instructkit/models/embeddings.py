"""Sentence embeddings (semantic dedup, contamination, selection), loaded once per model name.

One :func:`encode` for every step, backed by one content-keyed on-disk cache
(:mod:`instructkit.models.vector_cache`): a text embedded by ``dedup`` is not
embedded again by ``decontaminate`` or ``select``.  Models:

- ``minilm`` (default): all-MiniLM-L6-v2 from the offline package, 384 dims.
- ``static``: a model2vec static encoder distilled offline from that MiniLM
  (256 dims), about 100x faster; distilled once and kept in the user cache.
  Its nearest neighbours agree only partly with MiniLM's (docs/select.md).
- any sentence-transformers id or local path.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from instructkit.errors import InstructkitError, MissingDependency
from instructkit.models.paths import MINILM_PACKAGE, minilm_dir
from instructkit.models.vector_cache import VectorCache, cache_root, string_buffers, text_keys

#: Texts as a Python list, or an Arrow string array (hashed and checked without a Python string each).
Texts = list[str] | pa.Array

DEFAULT_EMBEDDING_MODEL = "minilm"
#: The fast encoder: model2vec distilled from the bundled MiniLM.
STATIC_MODEL = "static"
STATIC_DIMS = 256
#: ``INSTRUCTKIT_EMBEDDING_CACHE=off`` turns the on-disk cache off (e.g. read-only home).
CACHE_ENV = "INSTRUCTKIT_EMBEDDING_CACHE"


def static_dir() -> Path:
    """Where the distilled static model is kept: the user cache, one folder per distillation setting."""
    return cache_root() / "models" / f"minilm-static-{STATIC_DIMS}"


def _distill_static(target: Path) -> None:
    """Distil the bundled MiniLM into a static model (offline; tens of seconds to minutes on 2 cores)."""
    try:
        from model2vec.distill import distill
    except ImportError:
        raise MissingDependency("model2vec", "select", "the static embedding model") from None
    model = distill(model_name=str(minilm_dir()), pca_dims=STATIC_DIMS)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished first: use its copy
        shutil.rmtree(tmp, ignore_errors=True)


@lru_cache(maxsize=4)
def load(name: str = DEFAULT_EMBEDDING_MODEL) -> Any:
    """``minilm`` (the offline package), ``static``, or any sentence-transformers id or local path."""
    if name == STATIC_MODEL:
        return _load_static()
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise MissingDependency("sentence-transformers", "dedup", "embedding similarity") from None
    path = str(minilm_dir()) if name == DEFAULT_EMBEDDING_MODEL else name
    try:
        return SentenceTransformer(path, device="cpu")
    except OSError as e:
        hint = (
            " (no network here? use the offline default 'minilm')"
            if os.environ.get("HF_HUB_OFFLINE")
            else ""
        )
        raise InstructkitError(f"cannot load embedding model '{name}': {e}{hint}") from None


def _load_static() -> Any:
    try:
        from model2vec import StaticModel
    except ImportError:
        raise MissingDependency("model2vec", "select", "the static embedding model") from None
    folder = static_dir()
    if not (folder / "model.safetensors").is_file():
        _distill_static(folder)
    return StaticModel.from_pretrained(str(folder))


def model_tag(name: str) -> str:
    """The cache's name for a model: changes whenever the vectors it gives could change."""
    if name == DEFAULT_EMBEDDING_MODEL:
        return f"minilm-{importlib.metadata.version(MINILM_PACKAGE.replace('_', '-'))}"
    if name == STATIC_MODEL:
        return f"static{STATIC_DIMS}-m2v{importlib.metadata.version('model2vec')}"
    return "st-" + name


def _cache_enabled() -> bool:
    return os.environ.get(CACHE_ENV, "on").lower() not in ("0", "off", "false", "no")


#: Counters of the last :func:`encode` call (hits, encoded, seconds), for step summaries.
last_stats: dict[str, Any] = {}


def encode(
    texts: Texts,
    name: str = DEFAULT_EMBEDDING_MODEL,
    batch_size: int = 64,
    *,
    cache: bool | None = None,
) -> np.ndarray:
    """Unit-normalised float32 embeddings, so a dot product is the cosine similarity.

    Texts already in the on-disk cache for this model are not encoded again,
    and a text repeated within ``texts`` is encoded once.  Given an Arrow
    array, only the texts that must be encoded become Python strings."""
    use_cache = _cache_enabled() if cache is None else cache
    t0 = time.perf_counter()
    keys = text_keys(texts)
    store = VectorCache(model_tag(name)) if use_cache else None
    vectors, found = store.lookup(keys) if store else (None, np.zeros(len(texts), bool))
    missing = np.flatnonzero(~found)
    uniq_keys, first, inverse = np.unique(keys[missing], return_index=True, return_inverse=True)
    if len(missing) or vectors is None:  # a full cache hit never loads the model
        fresh = _encode_raw(_take(texts, missing[first]), name, batch_size)
        if vectors is None:
            vectors = np.zeros((len(texts), fresh.shape[1]), np.float32)
        vectors[missing] = fresh[inverse.reshape(-1)]
        if store and len(first):
            store.add(uniq_keys, fresh)
    last_stats.clear()
    last_stats.update(
        model=name,
        cache_hits=int(found.sum()),
        encoded=len(first),
        seconds=round(time.perf_counter() - t0, 3),
    )
    return vectors


def _take(texts: Texts, rows: np.ndarray) -> list[str]:
    if isinstance(texts, pa.Array):
        return [t or "" for t in texts.take(pa.array(rows, pa.int64())).to_pylist()]
    return [texts[i] for i in rows.tolist()]


def _encode_raw(texts: list[str], name: str, batch_size: int) -> np.ndarray:
    """The model's own encode, unit-normalised, without any cache."""
    model = load(name)
    if not texts:  # the model's width, from one throwaway text
        return _encode_raw([""], name, batch_size)[:0]
    if name == STATIC_MODEL:
        vecs = np.asarray(model.encode(texts, batch_size=1024), dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.where(norms > 0, norms, 1.0)
    vecs = model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vecs, dtype=np.float32)


def unsupported(texts: Texts, name: str) -> np.ndarray:
    """Per text: True where the model cannot compare it.  The offline default (all-MiniLM-L6-v2)
    was trained on English: on Chinese instructions it scored unrelated questions
    ("柯洁是谁" / "你吃什么") at cosine 1.0, so with it (and the static model distilled
    from it) texts whose UTF-8 bytes are mostly non-ASCII are left out; any other model
    is trusted with everything."""
    if name not in (DEFAULT_EMBEDDING_MODEL, STATIC_MODEL):
        return np.zeros(len(texts), dtype=bool)
    return mostly_non_ascii(texts)


def mostly_non_ascii(texts: Texts) -> np.ndarray:
    """Per text: are more than half of its UTF-8 bytes non-ASCII?  One pass over one buffer
    (an Arrow array's own data buffer, or the texts joined): the positions of the high
    bytes, counted per text by a binary search of its bounds."""
    if isinstance(texts, pa.Array):
        offsets, data = string_buffers(texts)
        data = data[offsets[0] : offsets[-1]]
        offsets = offsets - offsets[0]
    else:
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
        lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
    counts = np.diff(np.searchsorted(np.flatnonzero(data >= 128), offsets))
    return counts * 2 > np.diff(offsets)
