"""Log-probability backends: the log-probability of each response token after a prefix.

Three backends share one contract (:class:`LogprobBackend`), and the perplexity
metric (``score.perplexity``) is computed on top of it:
- ``llama.cpp`` in-process (offline default: SmolLM2-135M-Instruct GGUF);
- ``transformers`` for any Hugging Face causal LM id;
- an OpenAI-compatible ``/v1/completions`` endpoint with ``echo`` + ``logprobs``.
  Trap (measured, see docs/scoring.md): llama.cpp's server returned implausible
  echoed prompt log-probabilities, so numbers from an endpoint should be checked
  against an in-process run of the same model before they are trusted.

The prefix is the model's own chat template (user turn + generation prompt);
without a template, the instruction and two newlines.  The unconditional
prefix is the template's generation prompt alone.  The models themselves load
once per process (``models.lm``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from instructkit.errors import InstructkitError, MissingDependency
from instructkit.models.lm import DEFAULT_LM, is_gguf, load_hf_causal, load_llama


class LogprobBackend(Protocol):
    def setup(self) -> None:
        """Load the model (once per process per model name) before the first record."""
        ...

    def response_logprobs(self, instruction: str | None, response: str) -> np.ndarray:
        """Log-probability of each response token after the prefix (conditional when ``instruction``)."""
        ...


def log_softmax_pick(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """log p(target) per row, computed stably in float64 (rows = positions, columns = vocabulary)."""
    logits = logits.astype(np.float64, copy=False)
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return logits[np.arange(len(targets)), targets] - lse


@dataclass
class LlamaCppBackend:
    """In-process llama.cpp: exact per-token log-probabilities, deterministic on CPU."""

    model: str = DEFAULT_LM
    n_ctx: int = 1024
    max_response_tokens: int = 256
    n_threads: int | None = None
    _llm: Any = field(default=None, repr=False)

    def setup(self) -> None:
        self._llm = load_llama(self.model, self.n_ctx, self.n_threads)
        template = self._llm.metadata.get("tokenizer.chat_template")
        self._format = None
        if template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            vocab = self._llm
            self._format = Jinja2ChatFormatter(
                template,
                vocab.detokenize([vocab.token_eos()]).decode(),
                vocab.detokenize([vocab.token_bos()]).decode(),
            )

    def _prefix(self, instruction: str | None) -> list[int]:
        llm = self._llm
        if self._format is not None:
            messages = [{"role": "user", "content": instruction}] if instruction is not None else []
            text = self._format(messages=messages).prompt
            return llm.tokenize(text.encode(), add_bos=False, special=True)
        text = f"{instruction}\n\n" if instruction is not None else ""
        return llm.tokenize(text.encode(), add_bos=True, special=False)

    def response_logprobs(self, instruction: str | None, response: str) -> np.ndarray:
        if self._llm is None:
            self.setup()
        llm = self._llm
        # special=False: a response that contains "<|im_end|>" is scored as text, not as a control token.
        resp = llm.tokenize(response.encode(), add_bos=False, special=False)[
            : self.max_response_tokens
        ]
        prefix = self._prefix(instruction)
        room = self.n_ctx - len(resp)
        if len(prefix) > room:  # keep the end of a long instruction: it sits next to the answer
            prefix = prefix[:1] + prefix[len(prefix) - room + 1 :]
        tokens = prefix + resp
        llm.reset()
        llm.eval(tokens)
        start = len(prefix)
        logits = np.asarray(llm.scores[start - 1 : len(tokens) - 1])
        return log_softmax_pick(logits, np.asarray(resp))


@dataclass
class HFBackend:
    """A Hugging Face causal LM via transformers (for users online, or a local folder)."""

    model: str
    max_response_tokens: int = 256
    max_length: int = 2048

    def setup(self) -> None:
        self._tok, self._model = load_hf_causal(self.model)

    def _prefix(self, instruction: str | None) -> list[int]:
        tok = self._tok
        if getattr(tok, "chat_template", None):
            messages = [{"role": "user", "content": instruction}] if instruction is not None else []
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return tok(text, add_special_tokens=False)["input_ids"]
        ids = tok(
            f"{instruction}\n\n" if instruction is not None else "", add_special_tokens=False
        )["input_ids"]
        return ([tok.bos_token_id] if tok.bos_token_id is not None else []) + ids

    def response_logprobs(self, instruction: str | None, response: str) -> np.ndarray:
        import torch

        if not hasattr(self, "_model"):
            self.setup()
        resp = self._tok(response, add_special_tokens=False)["input_ids"][
            : self.max_response_tokens
        ]
        prefix = self._prefix(instruction)
        prefix = prefix[max(0, len(prefix) - (self.max_length - len(resp))) :]
        if not prefix:
            raise InstructkitError(
                f"model '{self.model}' has no BOS token and no template: cannot score a response alone"
            )
        ids = torch.tensor([prefix + resp])
        with torch.inference_mode():
            logits = self._model(ids).logits[0, len(prefix) - 1 : -1].float().numpy()
        return log_softmax_pick(logits, np.asarray(resp))


@dataclass
class OpenAIBackend:
    """An OpenAI-compatible ``/v1/completions`` endpoint that echoes prompt log-probabilities."""

    base_url: str
    model: str
    api_key: str = "EMPTY"

    def setup(self) -> None:
        try:
            from openai import OpenAI
        except ImportError:
            raise MissingDependency("openai", "llm", "endpoint perplexity") from None
        self._client = OpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=3)

    def response_logprobs(self, instruction: str | None, response: str) -> np.ndarray:
        if not hasattr(self, "_client"):
            self.setup()
        prefix = f"{instruction}\n\n" if instruction is not None else ""
        out = self._client.completions.create(
            model=self.model,
            prompt=prefix + response,
            echo=True,
            logprobs=1,
            max_tokens=1,
            temperature=0.0,
        )
        lp = out.choices[0].logprobs
        if lp is None or not lp.token_logprobs or lp.text_offset is None:
            raise InstructkitError(
                f"{self.base_url} returned no echoed log-probabilities: it cannot score perplexity"
            )
        end = len(prefix) + len(response)
        vals = [
            v
            for off, v in zip(lp.text_offset, lp.token_logprobs)
            if len(prefix) <= off < end and v is not None
        ]
        return np.asarray(vals, dtype=np.float64)


def make_backend(
    model: str = DEFAULT_LM, base_url: str | None = None, **kwargs: Any
) -> LogprobBackend:
    """``base_url`` -> endpoint; a GGUF (or the default) -> llama.cpp; anything else -> transformers."""
    if base_url:
        return OpenAIBackend(base_url=base_url, model=model)
    if is_gguf(model):
        return LlamaCppBackend(model=model, **kwargs)
    return HFBackend(model=model)
