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
#: For ASCII bytes: letters and digits stay, every other byte (punctuation, "_", white space,
#: control characters) becomes a space.
_ASCII_BREAKS = bytes(i if chr(i).isalnum() and i < 128 else 32 for i in range(256))


def normalize(text: str) -> str:
    """As the module docstring says; ASCII text by one byte-table pass (dedup and ``clean``'s
    echo check spent most of their time here).

    For ASCII, NFKC changes nothing, ``casefold`` is ``lower``, and every character is a
    letter or digit, white space or punctuation (``_`` included), the last two both
    becoming a break: so lower-casing, mapping the rest to spaces and splitting gives the
    same string (tested against :func:`normalize_unicode`).
    """
    if text.isascii():
        return b" ".join(text.encode("ascii").lower().translate(_ASCII_BREAKS).split()).decode()
    return normalize_unicode(text)


def normalize_unicode(text: str) -> str:
    """``normalize`` for any text, the general way."""
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).casefold()
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def words(text: str) -> list[str]:
    return normalize(text).split()
