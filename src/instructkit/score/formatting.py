"""Length and format of the response: tokens, markdown structure, code blocks, language.

Regular expressions over the markdown source rather than a markdown parser:
the counts are what LIMA-style curation looks at (is the answer structured, does
it carry code), and a full parse would cost far more than it adds.  Language id
reuses the cleaning step's implementation (py3langid on the prose, code and
URLs removed), so one dataset is never judged by two detectors.
"""

from __future__ import annotations

import re

import numpy as np

from instructkit.clean.language import identify

CODE_BLOCK = re.compile(r"^\s*(```|~~~)", re.MULTILINE)  # fence lines; a block has two
HEADER = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.MULTILINE)
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$", re.MULTILINE)
BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
LINK = re.compile(r"\[[^\]\n]+\]\([^)\s]+\)|https?://\S+")
INLINE_CODE = re.compile(r"(?<!`)`[^`\n]+`(?!`)")


def score_format(texts: list[str]) -> tuple[dict[str, np.ndarray], list[str | None]]:
    """Per text: ``format.*`` counts (NaN for an empty text) and the language code (None when unsure)."""
    n = len(texts)
    names = (
        "tokens",
        "chars",
        "lines",
        "code_blocks",
        "inline_code",
        "headers",
        "list_items",
        "table_rows",
        "bold",
        "links",
    )
    out = {f"format.{k}": np.full(n, np.nan) for k in names}
    lang_prob = np.full(n, np.nan)
    langs: list[str | None] = [None] * n
    present = [i for i, t in enumerate(texts) if t.strip()]
    for i in present:
        t = texts[i]
        out["format.tokens"][i] = len(t.split())
        out["format.chars"][i] = len(t)
        out["format.lines"][i] = t.count("\n") + 1
        out["format.code_blocks"][i] = (
            len(CODE_BLOCK.findall(t)) + 1
        ) // 2  # an unclosed fence still opens a block
        out["format.inline_code"][i] = len(INLINE_CODE.findall(t))
        out["format.headers"][i] = len(HEADER.findall(t))
        out["format.list_items"][i] = len(LIST_ITEM.findall(t))
        out["format.table_rows"][i] = len(TABLE_ROW.findall(t))
        out["format.bold"][i] = len(BOLD.findall(t))
        out["format.links"][i] = len(LINK.findall(t))
    for i, found in zip(present, identify([texts[i] for i in present])):
        if found is not None:
            langs[i], lang_prob[i] = found
    out["format.lang_prob"] = lang_prob
    return out, langs
