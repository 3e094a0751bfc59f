"""What every LLM step shares: where the model is, how to call it, and the call cache.

``evolve`` and ``generate`` (and any later LLM step) take these options and
open their client through :meth:`LLMSteps.client`: the offline default
(llama.cpp's server on the SmolLM2 GGUF, started for the duration) or any
OpenAI-compatible server, a concurrency limit that respects the local server's
one-at-a-time answering, and the SQLite cache beside the output so a rerun
repeats no completed call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from pydantic import Field, model_validator

from instructkit.accounting import sidecar
from instructkit.llm.client import LLMClient, safe_url
from instructkit.steps.config import StepConfig

#: llama.cpp's server answers one request at a time: more in flight only queue up and risk the timeout.
LOCAL_CONCURRENCY = 2


class LLMConfig(StepConfig):
    """The options of every LLM step (a step's own config adds its method's options)."""

    base_url: str | None = Field(
        None,
        description="OpenAI-compatible server, e.g. http://localhost:8000/v1. "
        "Default: start the offline SmolLM2 server.",
    )
    model: str | None = Field(
        None, description="Model name the server knows (required with base-url)."
    )
    concurrency: int = Field(8, ge=1, description="Requests in flight at most.")
    cache: Path | None = Field(
        None,
        description="SQLite cache of LLM calls (default: STEM.llm-cache.sqlite beside the output); "
        "a rerun repeats no completed call.",
    )
    timeout: float = Field(
        120.0, ge=0.1, description="Seconds before one request is given up (then retried)."
    )
    max_retries: int = Field(
        6, ge=0, description="Retries per call on 429, 5xx, timeouts and malformed answers."
    )

    @model_validator(mode="after")
    def _model_with_url(self) -> Self:
        if self.base_url and not self.model:
            raise ValueError(
                "model is required with base-url (the name the server knows the model by)"
            )
        return self


@dataclass
class Session:
    """An open client and what the summary says about it."""

    client: LLMClient
    model: str
    server: str


class LLMSteps:
    """Mixed into an LLM step (``config: LLMConfig``, ``output``, ``client_options``)."""

    config: LLMConfig
    output: Path | None
    client_options: dict[str, Any]

    @property
    def cache_path(self) -> Path | None:
        """The LLM call cache: as configured, else beside the output, so a rerun repeats no call."""
        if self.config.cache is not None:
            return self.config.cache
        return sidecar(self.output, "llm-cache", ".sqlite") if self.output else None

    @contextmanager
    def client(self) -> Iterator[Session]:
        """The configured server, or the offline one started for the duration; checked before use."""
        c = self.config
        with self._endpoint() as (base_url, model):
            concurrency = c.concurrency if c.base_url else min(c.concurrency, LOCAL_CONCURRENCY)
            client = LLMClient(
                base_url, model, concurrency=concurrency, timeout=c.timeout, max_retries=c.max_retries,
                cache_path=self.cache_path, **self.client_options,
            )  # fmt: skip
            server = safe_url(base_url) if c.base_url else "local llama.cpp (offline default)"
            try:
                client.preflight()
                yield Session(client, model, server)
            finally:
                client.close()

    @contextmanager
    def _endpoint(self) -> Iterator[tuple[str, str]]:
        c = self.config
        if c.base_url:
            assert c.model is not None
            yield c.base_url, c.model
            return
        from instructkit.llm.server import DEFAULT_ALIAS, LocalServer

        with LocalServer(alias=c.model or DEFAULT_ALIAS) as srv:
            yield srv.base_url, srv.model
