"""Text normalisation shared by exact dedup and n-gram decontamination.

NFKC folds compatibility forms (full-width letters, ligatures), ``casefold`` is
a stronger ``lower``, punctuation becomes a space so "well-known" and "well
known" meet, and runs of white space collapse.  Documented here once so every
step that compares texts compares the same thing.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
#: Zero-width space and joiners, word joiner, soft hyphen, BOM: invisible, so never a difference.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).casefold()
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def normalize_many(texts: list[str]) -> list[str]:
    """``normalize`` of each text; ASCII texts in one Arrow pass (most of dedup's time was here).

    For ASCII, NFKC changes nothing, ``casefold`` is ``lower``, and every character is a
    letter or digit, white space, or punctuation (``_`` included): the last two both become
    one space.  So lower-casing, turning each run of anything but ``[a-z0-9]`` into one
    space and trimming is the same string.  Other texts take ``normalize``.
    """
    arr = pa.array(texts, pa.large_string())
    ascii_rows = pc.string_is_ascii(arr).to_numpy(zero_copy_only=False)
    out = list(texts)
    rows = np.flatnonzero(ascii_rows)
    fast = pc.ascii_lower(arr.take(pa.array(rows)))
    fast = pc.utf8_trim(pc.replace_substring_regex(fast, r"[^a-z0-9]+", " "), " ")
    for i, text in zip(rows.tolist(), fast.to_pylist(), strict=True):
        out[i] = text
    for i in np.flatnonzero(~ascii_rows).tolist():
        out[i] = normalize(texts[i])
    return out


def words(text: str) -> list[str]:
    return normalize(text).split()
