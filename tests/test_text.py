"""The shared text normalisation: the ASCII byte-table path is the general path, exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from instructkit.text import normalize, normalize_unicode


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_ascii_path_equals_the_general_one(text: str) -> None:
    """Control characters, ``_``, \\x1c-\\x1f (white space to Python) included."""
    assert text.isascii()
    assert normalize(text) == normalize_unicode(text)


def test_fixed_cases() -> None:
    cases = {
        "A_b\x1fC\x0b d-e  ": "a b c d e",
        "\x00\x7f": "",
        "__": "",
        "": "",
        "Ｗｅｌｌ-known café": "well known café",  # not ASCII: NFKC and casefold
        "x\u200by": "xy",
        "STRASSE Straße": "strasse strasse",
    }
    assert {t: normalize(t) for t in cases} == cases
