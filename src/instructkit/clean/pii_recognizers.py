"""Recognizers Presidio lacks (secrets, credentials in URLs, street addresses) and an offline e-mail check.

Each is a Presidio ``PatternRecognizer`` so it runs in the same engine, resolves
overlaps the same way and reports its name in the decision trail.
"""

from __future__ import annotations

import re
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


_LINE = re.compile(r"[^\n]+")


def _shortest_number(region: str) -> int:
    """Fewest digits of a valid number found with this default region: national, or any international one."""
    from phonenumbers import PhoneMetadata

    md = PhoneMetadata.metadata_for_region(region)
    national = [n for n in (md.general_desc.possible_length if md else ()) if n > 0]
    return min([*national, 6])  # 6: the shortest country code + number in phonenumbers' metadata


class LinePhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer, run per region only on the lines that can hold a number there.

    phonenumbers parses every digit run once per region (11 by default), which
    made it 80% of ``clean`` on ShareGPT (code, tables and logs are full of
    digits).  Its candidates (digit blocks joined by up to 4 punctuation
    characters) never span a newline and its boundary checks look only at the
    neighbouring character, so matching line by line gives the same spans; and
    a line without as many close digits as the shortest valid number for a
    region (4 in Germany, 6 in the US counting "+1 ...") cannot hold one, so
    that region skips it.  The results and their order are Presidio's.
    """

    def __init__(self, supported_regions: list[str], **kwargs: Any) -> None:
        super().__init__(supported_regions=supported_regions, **kwargs)
        self._gates = [
            (r, re.compile(rf"\d(?:[^\n\d]{{0,4}}\d){{{_shortest_number(r) - 1}}}").search)
            for r in supported_regions
        ]

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        import phonenumbers

        lines = [(m.start(), m.group()) for m in _LINE.finditer(text)]
        results: list[RecognizerResult] = []
        for region, could_hold in self._gates:
            for offset, line in lines:
                if not could_hold(line):
                    continue
                for match in phonenumbers.PhoneNumberMatcher(line, region, leniency=self.leniency):
                    r = self._get_recognizer_result(match, line, region, nlp_artifacts)
                    r.start += offset
                    r.end += offset
                    results.append(r)
        return EntityRecognizer.remove_duplicates(results)


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
