"""Toxicity classifiers behind one interface: texts in, probabilities in [0, 1] out.

The clean step and the safety metric both use :func:`load_toxicity`, so a
dataset is judged by one implementation.  Three back-ends:

- ``profanity-check`` (default): ``alt-profanity-check``, a linear SVM over
  character n-grams shipped inside the PyPI package: works offline, ~100k
  texts/s, but it scores *profanity*; it misses polite hate and flags quoted
  slurs.  Good as a cheap offline screen.
- ``detoxify``: the Detoxify ``original`` model (downloads its checkpoint on
  first use, so it needs network once).
- any Hugging Face text-classification model id or local path (e.g.
  ``unitary/toxic-bert``): the probability of its toxic label.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from instructkit.errors import InstructkitError, MissingDependency

DEFAULT_TOXICITY_MODEL = "profanity-check"
#: Labels that mean "toxic" in the common Hugging Face toxicity classifiers.
TOXIC_LABELS = ("toxic", "toxicity", "label_1", "hate", "offensive", "nsfw")


@dataclass(frozen=True)
class ToxicityScorer:
    """A loaded classifier; ``score`` returns one probability per text (0 for an empty text)."""

    name: str
    _predict: Callable[[list[str]], np.ndarray]

    def score(self, texts: list[str]) -> np.ndarray:
        out = np.zeros(len(texts), dtype=np.float64)
        idx = [i for i, t in enumerate(texts) if t and t.strip()]
        if idx:
            probs = np.asarray(self._predict([texts[i] for i in idx]), dtype=np.float64)
            out[idx] = np.clip(probs, 0.0, 1.0)
        return out


def _profanity_check() -> Callable[[list[str]], np.ndarray]:
    try:
        from profanity_check import predict_prob
    except ImportError:
        raise MissingDependency(
            "alt-profanity-check", "toxicity", "the offline toxicity model"
        ) from None
    return lambda texts: predict_prob(texts)


def _detoxify() -> Callable[[list[str]], np.ndarray]:
    try:
        from detoxify import Detoxify
    except ImportError:
        raise InstructkitError(
            "toxicity model 'detoxify' needs the 'detoxify' package: pip install detoxify"
        ) from None
    try:
        model = Detoxify("original", device="cpu")
    except Exception as e:  # noqa: BLE001 - its checkpoint download fails offline with many exception types
        raise InstructkitError(
            f"cannot load Detoxify (it downloads its checkpoint; offline? use 'profanity-check'): {e}"
        ) from None
    return lambda texts: np.asarray(model.predict(texts)["toxicity"])


def _hf_pipeline(name: str) -> Callable[[list[str]], np.ndarray]:
    try:
        from transformers import pipeline
    except ImportError:
        raise InstructkitError(
            f"toxicity model '{name}' needs transformers: pip install transformers"
        ) from None
    try:
        clf = pipeline("text-classification", model=name, device=-1, top_k=None, truncation=True)
    except OSError as e:
        hint = (
            " (no network here? use 'profanity-check')" if os.environ.get("HF_HUB_OFFLINE") else ""
        )
        raise InstructkitError(f"cannot load toxicity model '{name}': {e}{hint}") from None

    def predict(texts: list[str]) -> np.ndarray:
        out = []
        for labels in clf(texts, batch_size=16):
            by_label = {d["label"].lower(): d["score"] for d in labels}
            toxic = [by_label[k] for k in TOXIC_LABELS if k in by_label]
            if not toxic:
                raise InstructkitError(
                    f"toxicity model '{name}' has no toxic label among {sorted(by_label)}"
                )
            out.append(max(toxic))
        return np.asarray(out)

    return predict


@lru_cache(maxsize=4)
def load_toxicity(name: str = DEFAULT_TOXICITY_MODEL) -> ToxicityScorer:
    """``profanity-check`` (offline), ``detoxify``, or a Hugging Face model id / local path."""
    if name == "profanity-check":
        return ToxicityScorer(name, _profanity_check())
    if name == "detoxify":
        return ToxicityScorer(name, _detoxify())
    return ToxicityScorer(name, _hf_pipeline(name))
