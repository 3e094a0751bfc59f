"""Language identification with py3langid (a naive-Bayes model bundled in its wheel: offline, BSD).

Code blocks, inline code and URLs are removed first, since they read as
"some language" to any character-n-gram model; a text with too few letters left
gets no language (absent, not a guess).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from instructkit.errors import MissingDependency

_CODE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]*`|https?://\S+", re.DOTALL)
_LETTERS = re.compile(r"[^\W\d_]")
MAX_CHARS = 1000
MIN_LETTERS = 20


@lru_cache(maxsize=1)
def _identifier() -> Any:
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        raise MissingDependency("py3langid", "clean", "language identification") from None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def prose(text: str) -> str:
    """The natural-language part of a turn: no code, no URLs, at most ``MAX_CHARS`` characters."""
    return _CODE.sub(" ", text)[:MAX_CHARS]


def identify(texts: list[str]) -> list[tuple[str, float] | None]:
    """(ISO 639-1 code, probability) per text, or None when there is too little prose to tell."""
    ident = _identifier()
    out: list[tuple[str, float] | None] = []
    for t in texts:
        p = prose(t)
        if len(_LETTERS.findall(p)) < MIN_LETTERS:
            out.append(None)
        else:
            lang, prob = ident.classify(p)
            out.append((lang, float(prob)))
    return out
