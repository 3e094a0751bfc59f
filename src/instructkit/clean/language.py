"""Language identification with py3langid (the model is loaded once by :mod:`instructkit.models.language`).

Code blocks, inline code and URLs are removed first, since they read as
"some language" to any character-n-gram model; a text with too few letters left
gets no language (absent, not a guess).
"""

from __future__ import annotations

import re
from itertools import islice

from instructkit.models.language import load_language_identifier

_CODE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]*`|https?://\S+", re.DOTALL)
_LETTERS = re.compile(r"[^\W\d_]")
MAX_CHARS = 1000
MIN_LETTERS = 20


def prose(text: str) -> str:
    """The natural-language part of a turn: no code, no URLs, at most ``MAX_CHARS`` characters."""
    return _CODE.sub(" ", text)[:MAX_CHARS]


def identify(texts: list[str]) -> list[tuple[str, float] | None]:
    """(ISO 639-1 code, probability) per text, or None when there is too little prose to tell."""
    ident = load_language_identifier()
    out: list[tuple[str, float] | None] = []
    for t in texts:
        p = prose(t)
        # Counting stops at MIN_LETTERS: only whether there are that many matters.
        if sum(1 for _ in islice(_LETTERS.finditer(p), MIN_LETTERS)) < MIN_LETTERS:
            out.append(None)
        else:
            lang, prob = ident.classify(p)
            out.append((lang, float(prob)))
    return out
