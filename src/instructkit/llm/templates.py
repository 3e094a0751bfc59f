"""Prompt templates as package data, each replaceable by a same-named ``.txt`` file of the user's.

Every LLM method keeps its prompts as text files beside its code (distilabel's
separation of the prompt from the parsing); a ``templates`` folder overrides
any of them by name, and a template that lost a placeholder its method fills
is refused up front rather than sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import ClassVar, Self

from instructkit.errors import InstructkitError


@dataclass(frozen=True)
class PromptTemplates:
    """A method's templates by name; subclasses name their package and the placeholders each needs."""

    #: The package whose ``templates/`` folder holds the packaged ``NAME.txt`` files.
    PACKAGE: ClassVar[str]
    #: Template name -> the placeholders it must contain.
    PLACEHOLDERS: ClassVar[dict[str, tuple[str, ...]]]

    texts: dict[str, str]

    @classmethod
    def load(cls, override_dir: Path | None = None) -> Self:
        """The packaged templates, with any same-named ``.txt`` file of ``override_dir`` in their place."""
        if override_dir is not None and not override_dir.is_dir():
            raise InstructkitError(f"option 'templates': {override_dir} is not a folder")
        packaged = resources.files(cls.PACKAGE) / "templates"
        texts: dict[str, str] = {}
        for name, needed in cls.PLACEHOLDERS.items():
            user = override_dir / f"{name}.txt" if override_dir is not None else None
            if user is not None and user.is_file():
                text, origin = user.read_text(encoding="utf-8"), str(user)
            else:
                text, origin = (
                    (packaged / f"{name}.txt").read_text(encoding="utf-8"),
                    f"packaged {name}.txt",
                )
            missing = [p for p in needed if p not in text]
            if missing:
                raise InstructkitError(
                    f"template {origin} lacks the placeholder(s) {', '.join(missing)}"
                )
            texts[name] = cls.tidy(text)
        return cls(texts)

    @staticmethod
    def tidy(text: str) -> str:
        """How a template's text is kept (as written, unless a method says otherwise)."""
        return text
