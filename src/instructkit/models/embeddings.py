"""Sentence embeddings (semantic dedup, contamination, diversity), loaded once per model name."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np

from instructkit.errors import InstructkitError, MissingDependency
from instructkit.models.paths import minilm_dir

DEFAULT_EMBEDDING_MODEL = "minilm"


@lru_cache(maxsize=4)
def load(name: str = DEFAULT_EMBEDDING_MODEL) -> Any:
    """``minilm`` (the offline package), or any sentence-transformers id or local path."""
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


def encode(
    texts: list[str], name: str = DEFAULT_EMBEDDING_MODEL, batch_size: int = 64
) -> np.ndarray:
    """Unit-normalised float32 embeddings, so a dot product is the cosine similarity."""
    model = load(name)
    vecs = model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vecs, dtype=np.float32)


def unsupported(texts: list[str], name: str) -> np.ndarray:
    """Per text: True where the model cannot compare it.  The offline default (all-MiniLM-L6-v2)
    was trained on English: on Chinese instructions it scored unrelated questions
    ("柯洁是谁" / "你吃什么") at cosine 1.0, so with it texts whose UTF-8 bytes are mostly
    non-ASCII are left out; any other model is trusted with everything."""
    if name != DEFAULT_EMBEDDING_MODEL:
        return np.zeros(len(texts), dtype=bool)
    return mostly_non_ascii(texts)


def mostly_non_ascii(texts: list[str]) -> np.ndarray:
    """Per text: are more than half of its UTF-8 bytes non-ASCII?  One pass over one joined buffer."""
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    high = np.frombuffer(b"".join(encoded), dtype=np.uint8) >= 128
    counts = np.zeros(len(texts), dtype=np.int64)
    nonempty = lengths > 0
    if nonempty.any():
        starts = (np.cumsum(lengths) - lengths)[nonempty]
        counts[nonempty] = np.add.reduceat(high.astype(np.int64), starts)
    return counts * 2 > lengths
