"""A cheap pre-scan that decides which rules of a pattern library can match a text at all.

Python's ``re`` tries every alternative of a case-insensitive alternation at
every position of a text, so scanning long turns with all refusal and GPT-ism
rules cost as much as the rest of ``clean`` together.  Most rules cannot match
most turns ("I'm sorry, but", "as an AI language model"): for each rule,
:func:`probe` derives from the parsed pattern a case-sensitive pattern over the
lower-cased text that finds something whenever the rule matches (a stretch of
the rule's literals, classes and repeats, with what it cannot translate left
out), and :class:`RuleGate` keeps, per text, only the rules whose probe finds
something.  Leaving out of an alternation the alternatives that match nowhere
in a text does not change its matches (same positions, same winning rule), so a
library of the kept rules finds exactly what the whole library finds.

With Hyperscan installed (x86-64), the gate asks one question per text instead
of one per rule: every rule is translated whole (:func:`loose`: what the
folded text must contain, with the parts that cannot be translated widened to
"any character") and all of them are scanned together in one pass, which
reports which rules can match.  Without it, the per-rule probes run in ``re``.
Either way the kept rules include every rule that matches, so the hits are the
library's own.
"""

from __future__ import annotations

import re
import string
import threading
from collections.abc import Callable, Iterable
from functools import cached_property, lru_cache
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

try:  # one pass over each text for all rules; without it the probes run one by one in re
    import hyperscan as _hyperscan
except ImportError:  # pragma: no cover - platforms without Hyperscan wheels
    _hyperscan = None
try:
    import regex as _regex
except ImportError:  # pragma: no cover - only the PII gate reads regex's classes
    _regex = None

#: A probe must require at least this many characters; shorter ones find something in nearly every text.
MIN_WIDTH = 3


@lru_cache(maxsize=1)
def _to_ascii() -> dict[int, str]:
    """Non-ASCII characters that ``re.IGNORECASE`` matches to an ASCII letter (K, ſ, ı, İ), mapped to it."""
    table: dict[int, str] = {}
    for cp in range(0x80, 0x110000):
        ch = chr(cp)
        if ch.lower() == ch.upper():
            continue
        for a in string.ascii_lowercase:
            if re.fullmatch(re.escape(ch), a, re.IGNORECASE):
                table[cp] = a
                break
    return table


@lru_cache(maxsize=1)
def _look_alikes() -> re.Pattern[str]:
    return re.compile("[" + "".join(map(re.escape, map(chr, _to_ascii()))) + "]")


def fold(text: str) -> str:
    """The text in lower case, with the few non-ASCII look-alikes of ASCII letters mapped to them."""
    if not text.isascii() and _look_alikes().search(text):
        text = text.translate(_to_ascii())
    return text.lower()


@lru_cache(maxsize=1)
def _upper_unsafe() -> re.Pattern[str]:
    """Characters whose upper case folds differently from themselves ("ß" -> "SS")."""
    chars = [
        chr(cp)
        for cp in range(0x80, 0x110000)
        if chr(cp).upper() != chr(cp) and fold(chr(cp).upper()) != fold(chr(cp))
    ]
    return re.compile("[" + "".join(map(re.escape, chars)) + "]")


def fold_changes_on_upper(text: str) -> bool:
    """True when upper-casing a character of ``text`` could bring in letters its folded form lacks.

    ``PatternLibrary.strip`` upper-cases the first letter left after an opener
    and scans the result again; the gate, computed on the text before, holds for
    the result only when this is False.
    """
    return not text.isascii() and _upper_unsafe().search(text) is not None


def _plain(ch: str) -> bool:
    """ASCII or without case: ``re.IGNORECASE`` matches it only to what :func:`fold` turns into it."""
    return ch.isascii() or (ch.lower() == ch == ch.upper() and ord(ch) not in _to_ascii())


def _letterless(lo: int, hi: int) -> bool:
    """True when the range ``lo``-``hi`` is ASCII with no letter inside (so case plays no part in it).

    Checking the ends is not enough: ``[0-`]`` holds A-Z, which ignoring case
    also matches a-z.
    """
    return hi < 128 and not any(chr(c).isalpha() for c in range(lo, hi + 1))


def _class(items: list[tuple[Any, Any]]) -> str | None:
    out = []
    for op, av in items:
        if op is C.LITERAL and _plain(chr(av)):
            out.append(re.escape(chr(av).lower()))
        elif op is C.RANGE and _letterless(*av):
            out.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif op is C.CATEGORY and av is C.CATEGORY_DIGIT:
            out.append(r"\d")
        elif op is C.CATEGORY and av is C.CATEGORY_SPACE:
            out.append(r"\s")
        else:
            return None  # negated classes, letter ranges, \w: not translated
    return out[0] if len(out) == 1 else "[" + "".join(out) + "]"


def _item(op: Any, av: Any) -> str | None:
    """One parsed item as a pattern over folded text that matches at least what it matched; None if untranslatable."""
    if op is C.LITERAL:
        return re.escape(chr(av).lower()) if _plain(chr(av)) else None
    if op is C.IN:
        return _class(av)
    if op is C.SUBPATTERN:
        body = _sequence(av[3])
        return None if not body else f"(?:{body})"
    if op is C.BRANCH:
        alternatives = [_sequence(b) for b in av[1]]
        if not all(alternatives):
            return None
        return "(?:" + "|".join(alternatives) + ")"  # type: ignore[arg-type]
    if op in (C.MAX_REPEAT, C.MIN_REPEAT):
        lo, hi, body = av
        inner = _sequence(body)
        if not inner:
            return None
        single = len(body) == 1 and body[0][0] in (C.LITERAL, C.IN)
        atom = inner if single else f"(?:{inner})"
        return f"{atom}{{{lo},{'' if hi is C.MAXREPEAT else hi}}}"
    return None


def _sequence(items: Iterable[tuple[Any, Any]]) -> str | None:
    parts = []
    for op, av in items:
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue  # zero width: leaving it out only lets the probe match more
        part = _item(op, av)
        if part is None:
            return None
        parts.append(part)
    return "".join(parts)


def _opens_with_literal(op: Any, av: Any) -> bool:
    """True when the item starts with a literal, so ``re`` can skip ahead to where it occurs."""
    if op is C.LITERAL:
        return True
    if op is C.SUBPATTERN:
        return bool(av[3]) and _opens_with_literal(*av[3][0])
    if op is C.BRANCH:
        return all(b and _opens_with_literal(*b[0]) for b in av[1])
    return False


def probe(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str] | None:
    """A case-sensitive pattern that finds something in ``fold(text)`` whenever ``pattern`` matches in ``text``.

    Built from the widest stretch of consecutive top-level items of the pattern
    that can be translated (literals in lower case, classes of plain characters,
    ``\\s`` and ``\\d``, groups and repeats of those; zero-width assertions left
    out), starting at a literal.  A match of the rule contains a match of every
    such stretch.  None when no stretch requires :data:`MIN_WIDTH` characters,
    or the rule refers back to a group (its number would change in a smaller
    library).
    """
    try:
        items = list(_parser.parse(pattern, flags))
    except re.error:
        return None
    if _has_backreference(items):
        return None
    best: tuple[tuple[int, int], str] | None = None
    run: list[str] = []

    def close() -> None:
        nonlocal best
        if run:
            text = "".join(run)
            parsed = _parser.parse(text)
            width = parsed.getwidth()[0]
            # A probe opening with a literal string is found by re's fast prefix search.
            score = (min(_literal_prefix(parsed), 4), width)
            if width >= MIN_WIDTH and (best is None or score > best[0]):
                best = (score, text)
            run.clear()

    for op, av in items:
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue
        part = _item(op, av)
        if part is None:
            close()
        elif run or _opens_with_literal(op, av):
            run.append(part)
    close()
    return None if best is None else re.compile(best[1])


def _literal_prefix(items: Iterable[tuple[Any, Any]]) -> int:
    """How many literal characters the parsed pattern opens with."""
    n = 0
    for op, av in items:
        if op is C.LITERAL:
            n += 1
        elif op is C.SUBPATTERN:
            inner = _literal_prefix(av[3])
            n += inner
            if inner < len(av[3]):
                return n
        else:
            return n
    return n


def _has_backreference(items: Iterable[tuple[Any, Any]]) -> bool:
    for op, av in items:
        if op in (C.GROUPREF, C.GROUPREF_EXISTS):
            return True
        if op is C.SUBPATTERN and _has_backreference(av[3]):
            return True
        if op is C.BRANCH and any(_has_backreference(b) for b in av[1]):
            return True
        if op in (C.MAX_REPEAT, C.MIN_REPEAT) and _has_backreference(av[2]):
            return True
        if op in (C.ASSERT, C.ASSERT_NOT) and _has_backreference(av[1]):
            return True
    return False


def _hs_char(ch: str) -> str:
    """One character in Hyperscan's syntax: ASCII letters and digits as they are, anything else as ``\\x{..}``."""
    return ch if ch.isascii() and ch.isalnum() else f"\\x{{{ord(ch):x}}}"


@lru_cache(maxsize=4)
def _category(category: Any) -> str:
    """The ASCII characters ``\\s`` or ``\\d`` matches (in ``re`` or ``regex``), plus every non-ASCII one (wider, far cheaper to compile)."""
    pattern = r"\s" if category is C.CATEGORY_SPACE else r"\d"
    ascii_ = "".join(map(chr, range(128)))
    found = set(re.findall(pattern, ascii_))
    if _regex is not None:  # Presidio compiles its patterns with the regex module
        found.update(_regex.findall(pattern, ascii_))
    return "".join(_hs_char(c) for c in sorted(found)) + _NON_ASCII


#: Every non-ASCII character (a class item in Hyperscan's UTF-8 mode).
_NON_ASCII = "\\x{80}-\\x{10ffff}"
#: Bounded repeats wider than this become unbounded: the same text found, a far smaller automaton.
_MAX_BOUND = 8
_HS_ANY = "."  # compiled with HS_FLAG_DOTALL: any character, the widening of what is not translated
#: How literals are read: "folded" (a case-insensitive rule over ``fold(text)``), "exact" (a
#: case-sensitive pattern over the text), "caseless" (a case-insensitive one over the text).
Mode = str


def _loose_char(ch: str, mode: Mode) -> str:
    if mode == "folded":
        return _hs_char(ch.lower()) if _plain(ch) else _HS_ANY
    if mode == "exact" or (ch.isascii() and not ch.isalpha()):
        return _hs_char(ch)
    if ch.isascii():  # a letter, caseless: either case, or any non-ASCII look-alike
        return f"[{_hs_char(ch.lower())}{_hs_char(ch.upper())}{_NON_ASCII}]"
    return _HS_ANY


def _loose_class(items: list[tuple[Any, Any]], mode: Mode) -> str:
    out = []
    for op, av in items:
        if op is C.LITERAL:
            part = _loose_char(chr(av), mode)
            if part == _HS_ANY:
                return _HS_ANY
            out.append(part[1:-1] if part.startswith("[") else part)
        elif op is C.RANGE:
            lo, hi = av
            if mode != "exact" and not _letterless(lo, hi):
                return _HS_ANY
            out.append(f"{_hs_char(chr(lo))}-{_hs_char(chr(hi))}")
        elif op is C.CATEGORY and av in (C.CATEGORY_DIGIT, C.CATEGORY_SPACE):
            out.append(_category(av))
        else:
            return _HS_ANY  # a class matches one character: any one is wider
    return "[" + "".join(out) + "]"


def _loose(items: Iterable[tuple[Any, Any]], mode: Mode) -> str | None:
    """A parsed sequence in Hyperscan's syntax matching at least what it matched; None if unknown."""
    parts = []
    for op, av in items:
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue  # zero width: leaving it out only lets the translation match more
        if op is C.LITERAL:
            part: str | None = _loose_char(chr(av), mode)
        elif op is C.IN:
            part = _loose_class(av, mode)
        elif op in (C.ANY, C.NOT_LITERAL):
            part = _HS_ANY
        elif op in (C.SUBPATTERN, C.ATOMIC_GROUP):
            part = _loose(av[3] if op is C.SUBPATTERN else av, mode)
            part = None if part is None else f"(?:{part})"
        elif op is C.BRANCH:
            alternatives = [_loose(b, mode) for b in av[1]]
            part = None if None in alternatives else "(?:" + "|".join(alternatives) + ")"  # type: ignore[arg-type]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            lo, hi, body = av
            inner = _loose(body, mode)
            top = "" if hi is C.MAXREPEAT or hi > _MAX_BOUND else hi
            part = None if inner is None else f"(?:{inner}){{{lo},{top}}}"
        else:
            return None  # back-references and anything new: not translated
        if part is None:
            return None
        parts.append(part)
    return "".join(parts)


def _any_ignorecase(items: Iterable[tuple[Any, Any]]) -> bool:
    """True when a scoped ``(?i:...)`` turns case-insensitive matching on anywhere inside."""
    for op, av in items:
        if op is C.SUBPATTERN and (av[1] & re.IGNORECASE or _any_ignorecase(av[3])):
            return True
        if op is C.ATOMIC_GROUP and _any_ignorecase(av):
            return True
        if op is C.BRANCH and any(_any_ignorecase(b) for b in av[1]):
            return True
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and _any_ignorecase(av[2]):
            return True
    return False


def loose(pattern: str, flags: int = re.IGNORECASE, *, folded: bool = True) -> str | None:
    """The whole pattern in Hyperscan's syntax, finding something wherever the pattern matches.

    With ``folded`` (the rule libraries: case-insensitive rules) it is read over
    ``fold(text)``: literals lower-cased as in :func:`probe`.  Without, over the
    text itself: literals as they are, or, when the pattern ignores case
    anywhere, ASCII letters in either case or as any non-ASCII character.
    Classes, ``.`` and literals it cannot place become "any character",
    zero-width assertions are left out, ``\\s`` and ``\\d`` are spelled out
    (their ASCII members, and all non-ASCII characters), and wide bounded
    repeats become unbounded.  What remains asks only whether a match exists,
    which every engine answers alike.  None for a pattern that can match the
    empty string or that it cannot read.
    """
    try:
        items = _parser.parse(pattern, flags)
    except re.error:
        return None
    if items.getwidth()[0] == 0:
        return None
    if folded:
        mode = "folded"
    elif (flags | items.state.flags) & re.IGNORECASE or _any_ignorecase(items):
        mode = "caseless"
    else:
        mode = "exact"
    return _loose(list(items), mode)


class Scanner:
    """All loose rules in one Hyperscan database: one pass per text says which can match."""

    def __init__(self, loose_rules: dict[Any, str]) -> None:
        assert _hyperscan is not None
        flags = _hyperscan.HS_FLAG_UTF8 | _hyperscan.HS_FLAG_DOTALL | _hyperscan.HS_FLAG_SINGLEMATCH
        self.keys = list(loose_rules)
        self._db = self._compile([loose_rules[k].encode() for k in self.keys], flags)
        if (
            self._db is None
        ):  # a rule Hyperscan refuses (too large) stays with re: find it, build the rest
            self.keys = [k for k in self.keys if self._compile([loose_rules[k].encode()], flags)]
            self._db = self._compile([loose_rules[k].encode() for k in self.keys], flags)
        if self._db is None:
            self.keys = []
        self._local = threading.local()  # scratch space is per thread

    @staticmethod
    def _compile(expressions: list[bytes], flags: int) -> Any:
        if not expressions:
            return None
        db = _hyperscan.Database()
        try:
            db.compile(
                expressions=expressions,
                ids=list(range(len(expressions))),
                elements=len(expressions),
                flags=[flags] * len(expressions),
            )
        except _hyperscan.error:
            return None
        return db

    def scan(self, folded: str) -> list[Any] | None:
        """Keys of the rules that can match; None when the text is not UTF-8 (lone surrogates)."""
        if self._db is None:
            return []
        try:
            data = folded.encode("utf-8")
        except UnicodeEncodeError:
            return None
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = _hyperscan.Scratch(self._db)
        found: list[int] = []
        self._db.scan(data, match_event_handler=lambda i, *_: found.append(i), scratch=scratch)
        return [self.keys[i] for i in found]


def hyperscan_available() -> bool:
    """True when the Hyperscan bindings are installed (x86-64 wheels)."""
    return _hyperscan is not None


class RuleGate:
    """Per text, the keys of the rules that can match it: those without a probe, and those whose probe finds something.

    With Hyperscan, the rules it takes are asked in one pass (:class:`Scanner`)
    and only the others by their ``re`` probes; ``hyperscan=False`` (and a text
    that is not UTF-8) uses the probes for all.
    """

    def __init__(
        self, patterns: dict[str, str], flags: int = re.IGNORECASE, *, hyperscan: bool = True
    ) -> None:
        self._patterns, self._flags = patterns, flags
        # A group number in one rule counts the groups of the rules before it: drop none then.
        self._numbered = any(_has_backreference(_parser.parse(p, flags)) for p in patterns.values())
        self._scanner: Scanner | None = None
        if hyperscan and _hyperscan is not None and not self._numbered:
            wide = {k: x for k, p in patterns.items() if (x := loose(p, flags)) is not None}
            self._scanner = Scanner(wide)
        scanned = set(self._scanner.keys if self._scanner else ())
        rest = {k: p for k, p in patterns.items() if k not in scanned and not self._numbered}
        self._by_re = {k: x for k, p in rest.items() if (x := probe(p, flags)) is not None}
        self.always = frozenset(patterns) - scanned - set(self._by_re)
        # Turns recur (repeated prompts and answers): each distinct text is probed once.
        self.possible: Callable[[str], frozenset[str]] = lru_cache(maxsize=4096)(self._possible)

    @cached_property
    def probes(self) -> dict[str, re.Pattern[str]]:
        """The ``re`` probe of every rule that has one (built when first needed: Hyperscan may take them all)."""
        if self._numbered:
            return {}
        found = {k: probe(p, self._flags) for k, p in self._patterns.items()}
        return {k: p for k, p in found.items() if p is not None}

    def _possible(self, text: str) -> frozenset[str]:
        folded = fold(text)
        found = self._scanner.scan(folded) if self._scanner is not None else None
        if found is None:  # no Hyperscan, or a text it cannot read
            unprobed = frozenset(self._patterns).difference(self.probes)
            return unprobed.union(k for k, p in self.probes.items() if p.search(folded))
        return self.always.union(found, (k for k, p in self._by_re.items() if p.search(folded)))
