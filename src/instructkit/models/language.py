"""The language-id model: py3langid's naive-Bayes model, bundled in its wheel (offline, BSD), loaded once."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from instructkit.errors import MissingDependency


@lru_cache(maxsize=1)
def load_language_identifier() -> Any:
    """A ``LanguageIdentifier`` with normalised probabilities; built on first use, then shared."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        raise MissingDependency("py3langid", "clean", "language identification") from None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
