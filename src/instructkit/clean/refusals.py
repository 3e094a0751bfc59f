"""Refusals and GPT-isms, found with the documented pattern library in ``patterns/refusals.yaml``.

Regular expressions rather than a classifier because every decision must be
explainable ("rule apology_cannot fired in turn 3") and cheap enough to run on
millions of turns; the library is data, so users extend it without code.  All
rules of one scope are compiled into one alternation with a named group per rule,
so a turn is scanned once per scope, not once per rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from instructkit.errors import InstructkitError

SCOPES = ("head", "any", "end")
ACTIONS = ("drop", "strip", "score")
DEFAULT_LIBRARY = "refusals.yaml"


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    id: str
    lang: str
    scope: str
    action: str
    pattern: str
    example: str


@dataclass(frozen=True, slots=True)
class Hit:
    category: str
    rule: str
    start: int
    end: int
    text: str


def _load_rules(text: str, origin: str) -> list[Rule]:
    try:
        doc = yaml.safe_load(text)
        rules = []
        for category, spec in doc["categories"].items():
            action = spec["action"]
            if action not in ACTIONS:
                raise ValueError(f"category {category}: action '{action}' is not one of {ACTIONS}")
            for p in spec["patterns"]:
                scope = p.get("scope", "any")
                if scope not in SCOPES:
                    raise ValueError(f"rule {p['id']}: scope '{scope}' is not one of {SCOPES}")
                rules.append(
                    Rule(
                        category,
                        p["id"],
                        p.get("lang", "en"),
                        scope,
                        action,
                        p["regex"],
                        p.get("example", ""),
                    )
                )
        return rules
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as e:
        raise InstructkitError(f"pattern library {origin} is malformed: {e}") from None


class PatternLibrary:
    """Compiled rules; ``find`` lists hits in a turn, ``strip`` removes openers and closers."""

    def __init__(self, rules: list[Rule], head_chars: int = 300) -> None:
        self.rules = {f"{r.category}__{r.id}": r for r in rules}
        self.head_chars = head_chars
        self._by_scope: dict[str, re.Pattern[str] | None] = {}
        for scope in SCOPES:
            group = [
                (k, r) for k, r in self.rules.items() if r.scope == scope and r.action != "strip"
            ]
            self._by_scope[scope] = self._compile(group)
        self._strip_head = self._compile(
            [(k, r) for k, r in self.rules.items() if r.action == "strip" and r.scope == "head"]
        )
        self._strip_end = self._compile(
            [(k, r) for k, r in self.rules.items() if r.action == "strip" and r.scope == "end"]
        )

    @staticmethod
    def _compile(group: list[tuple[str, Rule]]) -> re.Pattern[str] | None:
        if not group:
            return None
        try:
            return re.compile("|".join(f"(?P<{k}>{r.pattern})" for k, r in group), re.IGNORECASE)
        except re.error as e:
            raise InstructkitError(
                f"a pattern in the refusal library does not compile: {e}"
            ) from None

    @classmethod
    def load(cls, path: str | Path | None = None, head_chars: int = 300) -> PatternLibrary:
        """The packaged library, or a user's YAML file of the same shape."""
        if path is None:
            text = (
                resources.files("instructkit.clean")
                .joinpath("patterns", DEFAULT_LIBRARY)
                .read_text("utf-8")
            )
            return cls(_load_rules(text, DEFAULT_LIBRARY), head_chars)
        try:
            text = Path(path).read_text("utf-8")
        except OSError as e:
            raise InstructkitError(f"cannot read pattern library {path}: {e.strerror}") from None
        return cls(_load_rules(text, str(path)), head_chars)

    def _hits(self, regex: re.Pattern[str] | None, text: str, limit: int | None) -> list[Hit]:
        if regex is None:
            return []
        # Let a match that starts in the head run past it, but only count it if it starts there.
        scan = text if limit is None else text[: limit + 200]
        out = []
        for m in regex.finditer(scan):
            if limit is not None and m.start() >= limit:
                break
            rule = self.rules[m.lastgroup or ""]
            out.append(Hit(rule.category, rule.id, m.start(), m.end(), m.group(0)))
        return out

    def rule_of(self, hit: Hit) -> Rule:
        """The rule behind a hit this library found."""
        return self.rules[f"{hit.category}__{hit.rule}"]

    def find(self, text: str) -> list[Hit]:
        """Hits of the drop/score rules in one turn (head rules only in its first ``head_chars``)."""
        hits = self._hits(self._by_scope["head"], text, self.head_chars)
        hits += self._hits(self._by_scope["any"], text, None)
        tail_start = max(0, text.rfind("\n\n"))
        hits += [
            Hit(h.category, h.rule, h.start + tail_start, h.end + tail_start, h.text)
            for h in self._hits(self._by_scope["end"], text[tail_start:], None)
        ]
        return hits

    def strip(self, text: str) -> tuple[str, list[Hit]]:
        """Cut openers from the start and closers from the end; never empties a turn."""
        stripped: list[Hit] = []
        if self._strip_head is not None:
            m = self._strip_head.match(text)
            rest = text[m.end() :] if m else ""
            if m and rest.strip():
                rule = self.rules[m.lastgroup or ""]
                stripped.append(Hit(rule.category, rule.id, m.start(), m.end(), m.group(0)))
                text = rest[:1].upper() + rest[1:]
        while self._strip_end is not None:
            m = self._strip_end.search(text.rstrip())
            if not m or not text[: m.start()].strip():
                break
            rule = self.rules[m.lastgroup or ""]
            stripped.append(Hit(rule.category, rule.id, m.start(), m.end(), m.group(0)))
            text = text[: m.start()].rstrip()
        return text, stripped


@lru_cache(maxsize=4)
def default_library(head_chars: int = 300) -> PatternLibrary:
    return PatternLibrary.load(None, head_chars)


_FIRST_SENTENCE = re.compile(r".*?(?:[.!?](?=\s|$)|\n|$)", re.DOTALL)
_TURN = re.compile(r",?\s+(?:but|however|though|yet)\b,?\s+", re.IGNORECASE)
_CONNECTIVE = re.compile(
    r"^\s*(?:however|but|that\s+said|nevertheless|still|that\s+being\s+said)\b,?\s*",
    re.IGNORECASE,
)


def strip_ai_opener(text: str, hits: list[Hit]) -> tuple[str, str]:
    """Cut an opening disclaimer ("As an AI language model, I don't have feelings, but ...").

    Only when a hit lies in the first sentence: up to the "but"/"however" that turns
    to the answer, else the whole sentence (and the connective opening the next one).
    Returns the new text and what was removed; ("text", "") when nothing is cut,
    including when the cut would leave nothing.
    """
    m = _FIRST_SENTENCE.match(text)
    end = m.end() if m else len(text)
    inside = [h for h in hits if h.start < end]
    if not inside:
        return text, ""
    turn = _TURN.search(text, max(h.end for h in inside), end)
    cut = turn.end() if turn else end
    rest = text[cut:].lstrip() if turn else _CONNECTIVE.sub("", text[cut:].lstrip(), count=1)
    if not rest.strip():
        return text, ""
    return rest[:1].upper() + rest[1:], text[:cut].strip()
