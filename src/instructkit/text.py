"""Text normalisation shared by exact dedup and n-gram decontamination.

NFKC folds compatibility forms (full-width letters, ligatures), ``casefold`` is
a stronger ``lower``, punctuation becomes a space so "well-known" and "well
known" meet, and runs of white space collapse.  Documented here once so every
step that compares texts compares the same thing.
"""

from __future__ import annotations

import re
import unicodedata

_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
#: Zero-width space and joiners, word joiner, soft hyphen, BOM: invisible, so never a difference.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).casefold()
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def words(text: str) -> list[str]:
    return normalize(text).split()
