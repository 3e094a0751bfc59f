"""NLI cross-encoders (premise, hypothesis) -> entailment / contradiction probabilities.

None ships inside a PyPI package, so this loads a Hugging Face id or a local
folder (users online); loaded once per process per model name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from instructkit.errors import InstructkitError, MissingDependency


@dataclass(frozen=True)
class NLIModel:
    """A loaded NLI model and where its entailment and contradiction labels sit."""

    name: str
    tokenizer: Any
    model: Any
    entailment: int
    contradiction: int

    def probabilities(self, premises: list[str], hypotheses: list[str]) -> np.ndarray:
        """Softmax over the model's labels, one row per (premise, hypothesis)."""
        import torch

        if not premises:
            return np.zeros((0, 3))
        enc = self.tokenizer(
            premises, hypotheses, truncation=True, padding=True, return_tensors="pt"
        )
        with torch.inference_mode():
            return torch.softmax(self.model(**enc).logits.float(), dim=-1).numpy()


@lru_cache(maxsize=2)
def load_nli(name: str) -> NLIModel:
    """An NLI model by Hugging Face id or folder, on CPU in eval mode."""
    try:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError:
        raise MissingDependency("transformers", "score", "the NLI judge") from None
    try:
        tok = AutoTokenizer.from_pretrained(name)
        model = AutoModelForSequenceClassification.from_pretrained(name).eval()
    except (OSError, ValueError) as e:  # ValueError: a malformed hub id
        raise InstructkitError(
            f"cannot load NLI model '{name}' ({str(e).splitlines()[0][:160]}); no NLI model ships offline: "
            "give a local folder, or use the LLM judge (--judge-url URL --judge-model M)"
        ) from None
    labels = {v.lower(): int(k) for k, v in model.config.id2label.items()}
    try:
        entail = next(i for lab, i in labels.items() if lab.startswith("entail"))
        contra = next(i for lab, i in labels.items() if lab.startswith("contradict"))
    except StopIteration:
        raise InstructkitError(
            f"'{name}' is not an NLI model: its labels are {sorted(labels)}"
        ) from None
    return NLIModel(name, tok, model, entail, contra)
