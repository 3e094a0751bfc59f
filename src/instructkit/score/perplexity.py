"""Perplexity of the response given the instruction, and IFD (instruction-following difficulty).

IFD (Li et al., 2023, "From Quantity to Quality") is the perplexity of the
response *with* the instruction over its perplexity *without* it: near 1 means
the instruction hardly helps the model predict the answer (a hard or mismatched
pair), far below 1 means the answer follows from the instruction.  Raw
perplexity mostly measures how generic the answer's wording is.

The per-token log-probabilities come from a backend in ``models.logprobs``
(llama.cpp in-process, transformers, or an OpenAI-compatible endpoint).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instructkit.models.logprobs import LogprobBackend


@dataclass
class PerplexityScorer:
    """``perplexity`` (response | instruction), ``perplexity.unconditional``, ``ifd``, ``perplexity.tokens``."""

    backend: LogprobBackend
    ifd: bool = True

    def score(self, instructions: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        n = len(responses)
        out = {
            k: np.full(n, np.nan)
            for k in ("perplexity", "perplexity.tokens", "perplexity.unconditional", "ifd")
        }
        for i, (instr, resp) in enumerate(zip(instructions, responses)):
            if not resp.strip():
                continue  # no response: nothing to score, the metric stays absent
            cond = self.backend.response_logprobs(instr, resp)
            if cond.size == 0:
                continue
            out["perplexity"][i] = float(np.exp(-cond.mean()))
            out["perplexity.tokens"][i] = cond.size
            if self.ifd:
                uncond = self.backend.response_logprobs(None, resp)
                out["perplexity.unconditional"][i] = float(np.exp(-uncond.mean()))
                out["ifd"][i] = out["perplexity"][i] / out["perplexity.unconditional"][i]
        if not self.ifd:
            del out["perplexity.unconditional"], out["ifd"]
        return out
