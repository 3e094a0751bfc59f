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
        hint = " (no network here? use the offline default 'minilm')" if os.environ.get("HF_HUB_OFFLINE") else ""
        raise InstructkitError(f"cannot load embedding model '{name}': {e}{hint}") from None


def encode(texts: list[str], name: str = DEFAULT_EMBEDDING_MODEL, batch_size: int = 64) -> np.ndarray:
    """Unit-normalised float32 embeddings, so a dot product is the cosine similarity."""
    model = load(name)
    vecs = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vecs, dtype=np.float32)
