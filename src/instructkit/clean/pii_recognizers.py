"""Recognizers Presidio lacks (secrets, credentials in URLs, street addresses) and an offline e-mail check.

Each is a Presidio ``PatternRecognizer`` so it runs in the same engine, resolves
overlaps the same way and reports its name in the decision trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import regex
import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    PhoneRecognizer,
)

#: Presidio's default flags include IGNORECASE; key prefixes and capitalised street names need case.
CASE_SENSITIVE = regex.DOTALL | regex.MULTILINE


@lru_cache(maxsize=1)
def _offline_tld() -> tldextract.TLDExtract:
    # The bundled public-suffix snapshot: the default extractor tries the network first.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer with the TLD check done against the bundled suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        return bool(_offline_tld()(pattern_text).fqdn)


_DIGIT = re.compile(r"\d")
#: Longest piece whose phone matches are remembered (bounds the cache's memory).
PIECE_CACHE_CHARS = 2000
#: The separator runs of phonenumbers' extension pattern, the only places its candidates hold a comma.
_COMMA_RUNS = ("[ \xa0\\t,]*", "[ \xa0\\t,-]*")
_AFTER_COMMA = re.compile("[ \xa0\t,]*")
_BEFORE_COMMA = " \xa0\t,-"


def _shortest_number(region: str) -> int:
    """Fewest digits of a valid number found with this default region: national, or any international one."""
    from phonenumbers import PhoneMetadata

    md = PhoneMetadata.metadata_for_region(region)
    national = [n for n in (md.general_desc.possible_length if md else ()) if n > 0]
    return min([*national, 6])  # 6: the shortest country code + number in phonenumbers' metadata


def _class_items(items: list[tuple[Any, Any]]) -> str:
    """The inside of a character class, rebuilt from a parsed ``[...]`` (literals, ranges, ``\\d``)."""
    from re import _constants as c  # type: ignore[attr-defined]

    out = []
    for op, av in items:
        if op is c.LITERAL:
            out.append(re.escape(chr(av)))
        elif op is c.RANGE:
            out.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif op is c.CATEGORY and av is c.CATEGORY_DIGIT:
            out.append(r"\d")
        else:
            raise ValueError(f"unsupported class item {op} {av}")
    return "".join(out)


def pattern_alphabet(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """One character class holding every character a match of ``pattern`` can contain.

    Built from the parsed pattern (its literals and classes, compiled with the
    pattern's own flags, so case folding is the same); raises ValueError for
    constructs it cannot bound (``.``, negated classes, lookarounds, anchors),
    so a pattern it accepts has no context outside its match either.
    """
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    parts: list[str] = []

    def walk(items: Any) -> None:
        for op, av in items:
            if op is c.LITERAL:
                parts.append(re.escape(chr(av)))
            elif op is c.IN:
                parts.append(_class_items(av))
            elif op is c.SUBPATTERN:
                walk(av[3])
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                walk(av[2])
            elif op is c.BRANCH:
                for branch in av[1]:
                    walk(branch)
            else:
                raise ValueError(f"unsupported regex construct {op}")

    walk(_parser.parse(pattern.pattern, pattern.flags))
    return re.compile("[" + "".join(parts) + "]", pattern.flags)


class LinePhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer, run per region only on the stretches of text that can hold a kept number.

    phonenumbers parses every digit run once per region (11 by default), which
    made it 80% of ``clean`` on ShareGPT (code, tables and logs are full of
    digits).  Every number it reports lies inside one of its candidates, and a
    candidate (phonenumbers' ``_PATTERN``) is made of digits, a fixed set of
    punctuation and the letters of extension labels ("ext", "x", "int", "доб"):
    :func:`pattern_alphabet` reads that set from the pattern itself.  So a
    number never crosses a character outside it (a newline, a ``|``, a quote,
    most letters), and the text splits into *segments* no number spans.  The
    matcher looks one character before a candidate and three after it, so
    running it on a segment with that margin gives the same spans at the same
    offsets as on the whole text.

    ``min_digits`` is the fewest digits of a number the caller keeps (the PII
    guard drops shorter ones without a leading "+"): a segment with fewer digits
    and no "+" is skipped.  Per region, a segment without as many close digits
    as the shortest valid number there (4 in Germany, 6 with a country code) is
    skipped too.  A line long enough to exhaust the matcher's retry budget
    (``max_tries``, which makes it stop early on that line) is matched whole, as
    before, so its results stay the same.  The results and their order are
    Presidio's.
    """

    def __init__(self, supported_regions: list[str], min_digits: int = 0, **kwargs: Any) -> None:
        from phonenumbers import phonenumbermatcher

        super().__init__(supported_regions=supported_regions, **kwargs)
        self.min_digits = min_digits
        self._gates = [
            (r, re.compile(rf"\d(?:[^\n\d]{{0,4}}\d){{{_shortest_number(r) - 1}}}").search)
            for r in supported_regions
        ]
        flags = phonenumbermatcher._PATTERN.flags
        member = pattern_alphabet(phonenumbermatcher._PATTERN).pattern
        if re.compile(member, flags).match("\n"):
            raise ValueError(
                "phonenumbers' candidates can span lines; the segment gate assumes not"
            )
        # A segment with a digit: starts after a non-member (or at 0), reaches its first digit, runs to its end.
        self._segments = re.compile(rf"(?<!{member}){member}*?\d{member}*", flags)
        # Commas occur in the pattern only in the extension's separator runs; if that changes, no comma splits.
        bare = re.sub(r"\{\d+,\d+\}", "", phonenumbermatcher._PATTERN.pattern)
        in_runs = sum(bare.count(run) for run in _COMMA_RUNS)
        self._label = (
            re.compile(rf"(?![\d \xa0\t,\-]){member}", flags).match
            if in_runs and bare.count(",") == in_runs
            else None
        )
        # Each failed candidate costs the matcher at most 1 + 2 tries per inner pattern and character.
        max_tries = phonenumbermatcher.PhoneNumberMatcher.__init__.__defaults__[1]
        self.max_safe_line = max_tries // (1 + 2 * len(phonenumbermatcher._INNER_MATCHES))

    def pieces(self, text: str) -> list[tuple[int, int, int, str]]:
        """(start, end, keep_before, line) to match: a segment with its margin, or a whole long line.

        Spans found at or after ``keep_before`` lie in the margin after the segment
        (another segment, cut short) and are not kept.
        """
        out: list[tuple[int, int, int, str]] = []
        parts = (
            part
            for m in self._segments.finditer(text)
            if self._worth(m.group())
            for part in self._comma_parts(text, *m.span())
        )
        for s, e in parts:
            if not self._worth(text[s:e]):
                continue
            line_start = text.rfind("\n", 0, s) + 1
            line_end = text.find("\n", e)
            line_end = len(text) if line_end < 0 else line_end
            line = text[line_start:line_end]
            if line_end - line_start > self.max_safe_line:
                if not out or out[-1][:2] != (line_start, line_end):
                    out.append((line_start, line_end, line_end, line))
            else:
                out.append((max(line_start, s - 1), min(line_end, e + 3), e, line))
        return out

    def _worth(self, seg: str) -> bool:
        """Enough digits for a kept number, or a plus sign."""
        return len(_DIGIT.findall(seg)) >= self.min_digits or "+" in seg or "＋" in seg

    def _comma_parts(self, text: str, s: int, e: int) -> list[tuple[int, int]]:
        """The segment cut at the commas no candidate can hold ("1.5, 2.5, 3.5" is three).

        A comma belongs to a candidate only inside an extension: in the separators
        before its label ("555 1234, ext. 5") or after it ("ext, 5").  A comma with
        no possible label character (a non-digit of the alphabet) next to it on
        either side, past those separators, is a boundary.
        """
        if self._label is None:
            return [(s, e)]
        out = []
        start = s
        c = text.find(",", s, e)
        while c != -1:
            after = _AFTER_COMMA.match(text, c + 1).end()  # type: ignore[union-attr]
            j = c - 1
            while j >= s and text[j] in _BEFORE_COMMA:
                j -= 1
            if not (after < e and self._label(text[after])) and not (
                j >= s and self._label(text[j])
            ):
                out.append((start, c))
                start = c + 1
            c = text.find(",", c + 1, e)
        out.append((start, e))
        return out

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        pieces = self.pieces(text)
        results: list[RecognizerResult] = []
        for region, could_hold in self._gates:
            for start, end, keep_before, line in pieces:
                if not could_hold(line):
                    continue
                piece = text[start:end]
                spans = (
                    _phone_spans(piece, region, self.leniency)
                    if len(piece) <= PIECE_CACHE_CHARS
                    else _phone_spans.__wrapped__(piece, region, self.leniency)
                )
                for s, e in spans:
                    if s + start >= keep_before:
                        continue
                    r = self._get_recognizer_result(_Span(s, e), piece, region, nlp_artifacts)
                    r.start += start
                    r.end += start
                    results.append(r)
        return EntityRecognizer.remove_duplicates(results)


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int


@lru_cache(maxsize=16384)
def _phone_spans(piece: str, region: str, leniency: int) -> tuple[tuple[int, int], ...]:
    """phonenumbers' matches in one piece, remembered: tables and code recur across turns and conversations."""
    import phonenumbers

    return tuple(
        (m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(piece, region, leniency=leniency)
    )


class CardRecognizer(CreditCardRecognizer):
    """Presidio's Luhn-checked card recognizer, plus the Mastercard 2-series (2221-2720) its pattern lacks."""

    PATTERNS: ClassVar[list[Pattern]] = [
        *CreditCardRecognizer.PATTERNS,
        Pattern(
            "mastercard_2_series",
            r"\b2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b",
            0.3,
        ),
    ]


class SecretRecognizer(PatternRecognizer):
    """API keys and credentials with a recognisable shape: high precision, so full score."""

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("openai_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}\b", 0.95),
        Pattern("aws_access_key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0.95),
        Pattern(
            "github_token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
            0.95,
        ),
        Pattern("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b", 0.9),
        Pattern("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0.9),
        Pattern("stripe_key", r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b", 0.9),
        Pattern("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 0.9),
        Pattern(
            "private_key_block",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]{20,}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
            1.0,
        ),
        Pattern(
            "assigned_secret",
            r"(?i)\b(?:aws_secret_access_key|secret_key|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)\b\s*[:=]\s*[\"']?(?-i:(?=[A-Za-z0-9/+_-]*[0-9])(?=[A-Za-z0-9/+_-]*[A-Za-z])[A-Za-z0-9/+_-]{20,})",
            0.7,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="SECRET",
            patterns=self.PATTERNS,
            global_regex_flags=CASE_SENSITIVE,
            name="SecretRecognizer",
        )


class UrlCredentialsRecognizer(PatternRecognizer):
    """``scheme://user:password@host`` and URLs that carry a token in their query string."""

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "userinfo",
            r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s:/@\"'<>]{1,64}:[^\s/@\"'<>]{1,128}@[^\s/\"'<>]+[^\s\"'<>)\]]*",
            0.9,
        ),
        Pattern(
            "query_token",
            r"\bhttps?://[^\s\"'<>]+?[?&](?i:access_token|token|api_key|apikey|key|secret|password|passwd|sig|signature|auth|client_secret)=(?=[^&\s\"'<>]*\d)[^&\s\"'<>]{12,}[^\s\"'<>)\]]*",
            0.85,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="URL_CREDENTIALS",
            patterns=self.PATTERNS,
            global_regex_flags=CASE_SENSITIVE,
            name="UrlCredentialsRecognizer",
        )


_STREET_TYPES = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|"
    r"Parkway|Pkwy|Highway|Hwy|Circle|Cir|Square|Sq|Trail|Trl|Close|Crescent|Cres"
)


class StreetAddressRecognizer(PatternRecognizer):
    """House-number-first (US/UK) and street-name-first (German-speaking) addresses.

    Case-sensitive on purpose: a capitalised street name is what separates
    "221 Baker Street" from "5 main points".
    """

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "us_uk_street",
            r"\b\d{1,5}(?:[/-]\d{1,4})?[A-Z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-z]+\.?\s+){1,3}(?:"
            + _STREET_TYPES
            + r")\b\.?(?:\s+[NS][EW]\b)?"
            r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat|#)\.?\s*[A-Za-z0-9-]+)?"
            r"(?:,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+){0,2}(?:,\s*[A-Z]{2})?(?:\s+\d{5}(?:-\d{4})?|\s+[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2})?)?",
            0.7,
        ),
        Pattern(
            "de_street",
            r"\b[A-ZÄÖÜ][a-zäöüß-]+(?:straße|strasse|str\.|weg|platz|allee|gasse)[ \t]+\d{1,4}[a-z]?\b"
            r"(?:,[ \t]*\d{5}[ \t]+[A-ZÄÖÜ][a-zäöüß]+)?",
            0.7,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="STREET_ADDRESS",
            patterns=self.PATTERNS,
            global_regex_flags=CASE_SENSITIVE,
            name="StreetAddressRecognizer",
        )
