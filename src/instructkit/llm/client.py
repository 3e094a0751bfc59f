"""An async client for any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp, TGI, SGLang, OpenAI).

The API, kept small on purpose (the LLM judge of the scoring step uses it too)::

    client = LLMClient(base_url, model, api_key=None, concurrency=8, timeout=60,
                       max_retries=6, cache_path=None)
    done = await client.chat(messages, temperature=0.7, max_tokens=256)   # -> Completion
    many = client.chat_many([messages, ...], temperature=0)  # -> list[Completion | CallFailure]
    many = await client.achat_many([...])   # the same from inside a running event loop
    client.usage    # Usage: calls, cached, retries, failures, tokens, cost
    await client.aclose()   # after your own asyncio.run work; chat_many does it itself
    client.close()          # closes the cache

Why each part is there:

- at most ``concurrency`` requests in flight (an ``asyncio.Semaphore``), so a
  small server is not flooded and a large one is kept busy;
- retries with exponential backoff and full jitter (``tenacity``) on 429, 5xx,
  timeouts, dropped connections and malformed answers (invalid JSON, empty
  ``choices``); a ``Retry-After`` header overrides the backoff; the SDK's own
  retries are off so there is one policy.  Errors that retrying cannot fix
  (401/403/404: wrong key, wrong model) stop the run with one clear line;
- with ``cache_path`` every completed call is committed to SQLite before it is
  returned, so a rerun after a crash repeats no completed call;
- the API key comes from ``api_key`` or the environment
  (``INSTRUCTKIT_LLM_API_KEY``, then ``OPENAI_API_KEY``) and is never logged or
  shown in ``repr``; every error text is passed through :func:`redact` (a server
  may echo the key back in an error body) and URLs through :func:`safe_url`
  (``http://user:password@host`` keeps its password out of summaries and errors);
- a hanging server must not cost minutes per call: a timeout is retried once,
  not ``max_retries`` times, and when the first ``give_up_after`` calls of a run
  all fail with no call answered, the run stops with one line (exit 2).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from instructkit.errors import InstructkitError, MissingDependency
from instructkit.llm.cache import CachedAnswer, CompletionCache, request_key

Messages = Sequence[dict[str, str]]
#: Longest wait a ``Retry-After`` can impose; a longer request is capped to this.
MAX_RETRY_AFTER = 120.0
#: Attempts for a call that timed out: a server silent for a whole timeout rarely answers later.
TIMEOUT_ATTEMPTS = 2
_BEARER = re.compile(r"(?i)(bearer|api[-_ ]?key|authorization)([\"':= ]+)[A-Za-z0-9._~+/=-]{6,}")
_KEYLIKE = re.compile(r"\bsk-[A-Za-z0-9_-]{6,}")


def safe_url(url: str) -> str:
    """``url`` without a user name or password (they are credentials, not a location)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with the given secrets, bearer tokens, ``sk-`` keys and URL passwords masked."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret != "not-needed":
            text = text.replace(secret, "***")
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _KEYLIKE.sub("sk-***", text)
    return re.sub(r"(\w+://)[^/\s:@]*:[^/\s@]*@", r"\1***@", text)


class MalformedResponse(Exception):
    """The server answered 200 with something that is not a usable chat completion."""


class LLMError(Exception):
    """A call that failed after all retries (or with an error retrying cannot fix)."""

    def __init__(self, kind: str, message: str, attempts: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool


@dataclass(frozen=True, slots=True)
class CallFailure:
    """What ``chat_many`` returns in place of a completion that could not be had."""

    kind: str  # rate_limited, server_error, timeout, connection, malformed, ...
    error: str
    attempts: int


@dataclass
class Usage:
    """Counters for the summary file: what the run cost, and what the cache saved."""

    calls: int = 0
    answered: int = 0
    cached: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    price_per_mtok: tuple[float, float] | None = None

    @property
    def cost(self) -> float | None:
        if self.price_per_mtok is None:
            return None
        p_in, p_out = self.price_per_mtok
        return (self.prompt_tokens * p_in + self.completion_tokens * p_out) / 1e6

    def as_dict(self) -> dict[str, Any]:
        d = {
            "calls": self.calls,
            "answered": self.answered,
            "cached": self.cached,
            "retries": self.retries,
            "failures": self.failures,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }
        if self.cost is not None:
            d["cost"] = round(self.cost, 6)
        return d


def _kind(exc: BaseException) -> str:
    import openai

    if isinstance(exc, openai.APITimeoutError | asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.APIStatusError):
        return "server_error" if exc.status_code >= 500 else f"http_{exc.status_code}"
    if isinstance(exc, MalformedResponse | ValueError):
        return "malformed"
    return type(exc).__name__


def _retryable(exc: BaseException) -> bool:
    return _kind(exc) in {
        "timeout",
        "connection",
        "rate_limited",
        "server_error",
        "malformed",
        "http_408",
        "http_409",
    }


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``Retry-After``: seconds or HTTP date)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def api_key_from_env() -> str:
    """The key for the server; local servers need none, so a placeholder is sent."""
    return (
        os.environ.get("INSTRUCTKIT_LLM_API_KEY")
        or os.environ.get("OPENAI_API_KEY")
        or "not-needed"
    )


@dataclass
class _LoopState:
    """The SDK client and semaphore belong to one event loop; ``chat_many`` makes a new loop each time."""

    sdk: Any
    semaphore: asyncio.Semaphore


@dataclass
class LLMClient:
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    concurrency: int = 8
    timeout: float = 60.0
    max_retries: int = 6
    cache_path: str | os.PathLike[str] | None = None
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    price_per_mtok: tuple[float, float] | None = None
    #: Stop the run when this many calls have failed and none has been answered yet.
    give_up_after: int = 3
    usage: Usage = field(init=False)
    _cache: CompletionCache | None = field(init=False, repr=False, default=None)
    _states: dict[int, _LoopState] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        try:
            import openai  # noqa: F401
            import tenacity  # noqa: F401
        except ImportError:
            raise MissingDependency("openai, tenacity", "llm", "LLM access") from None
        if self.concurrency < 1:
            raise InstructkitError("--concurrency must be at least 1")
        self.usage = Usage(price_per_mtok=self.price_per_mtok)

    def preflight(self, timeout: float = 5.0) -> None:
        """Fail fast, with one line, when nothing listens at ``base_url`` (a typo, a server not started).

        Only an unreachable server is an error here: an HTTP status (some servers have
        no ``/models``) is left to the real calls and their retries.
        """
        import httpx

        try:
            httpx.get(f"{self.base_url.rstrip('/')}/models", timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as e:
            raise InstructkitError(
                f"cannot reach the LLM server at {safe_url(self.base_url)}: {self._short(e)}"
            ) from None
        except httpx.HTTPError:
            pass

    def _state(self) -> _LoopState:
        import openai

        loop = asyncio.get_running_loop()
        state = self._states.get(id(loop))
        if state is None:
            sdk = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self.api_key or api_key_from_env(),
                timeout=self.timeout,
                max_retries=0,
            )
            state = _LoopState(sdk, asyncio.Semaphore(self.concurrency))
            self._states[id(loop)] = state
        return state

    async def chat(self, messages: Messages, **sampling: Any) -> Completion:
        """One chat completion (from the cache when this exact request was answered before).

        Raises :class:`LLMError` when the call fails after the retries.
        """
        msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
        key = request_key(self.model, msgs, sampling)
        if self._cache is None and self.cache_path is not None:
            # Opened at the first call, not before: a run that fails its preflight leaves no file.
            self._cache = CompletionCache(self.cache_path)
        if self._cache is not None and (hit := self._cache.get(key)) is not None:
            self.usage.cached += 1
            return Completion(hit.text, hit.prompt_tokens, hit.completion_tokens, cached=True)
        state = self._state()
        async with state.semaphore:
            answer = await self._with_retries(state.sdk, msgs, sampling)
        self.usage.answered += 1
        if (
            self._cache is not None
        ):  # committed before returning; in a thread so other calls go on meanwhile
            await asyncio.to_thread(
                self._cache.put, key, self.model, {"messages": msgs, "params": sampling}, answer
            )
        return Completion(answer.text, answer.prompt_tokens, answer.completion_tokens, cached=False)

    async def _with_retries(
        self, sdk: Any, msgs: list[dict[str, str]], sampling: dict[str, Any]
    ) -> CachedAnswer:
        import openai
        import tenacity

        backoff = tenacity.wait_random_exponential(
            multiplier=self.backoff_initial, max=self.backoff_max
        )

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            asked = retry_after(exc) if exc else None
            return min(asked, MAX_RETRY_AFTER) if asked is not None else backoff(state)

        def count_retry(state: tenacity.RetryCallState) -> None:
            self.usage.retries += 1

        attempts = 0
        try:

            def stop(state: tenacity.RetryCallState) -> bool:
                exc = state.outcome.exception() if state.outcome else None
                limit = TIMEOUT_ATTEMPTS if exc is not None and _kind(exc) == "timeout" else None
                return state.attempt_number >= min(self.max_retries + 1, limit or 1 << 30)

            async for attempt in tenacity.AsyncRetrying(
                stop=stop,
                wait=wait,
                retry=tenacity.retry_if_exception(_retryable),
                before_sleep=count_retry,
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    self.usage.calls += 1
                    return await self._once(sdk, msgs, sampling)
        except (
            openai.AuthenticationError,
            openai.PermissionDeniedError,
            openai.NotFoundError,
        ) as e:
            raise InstructkitError(
                f"the LLM server at {safe_url(self.base_url)} refused the request ({_kind(e)}): "
                f"check --model '{self.model}' and the API key (INSTRUCTKIT_LLM_API_KEY or OPENAI_API_KEY)"
            ) from None
        except Exception as e:
            self.usage.failures += 1
            message = f"{_kind(e)} after {attempts} attempt(s): {self._short(e)}"
            if not self.usage.answered and self.usage.failures >= self.give_up_after:
                raise InstructkitError(
                    f"the LLM server at {safe_url(self.base_url)} answered none of the first "
                    f"{self.usage.failures} calls (last: {message}); check the server and --timeout"
                ) from None
            raise LLMError(_kind(e), message, attempts) from e
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _once(
        self, sdk: Any, msgs: list[dict[str, str]], sampling: dict[str, Any]
    ) -> CachedAnswer:
        try:
            resp = await sdk.chat.completions.create(model=self.model, messages=msgs, **sampling)
        except json.JSONDecodeError as e:
            raise MalformedResponse(f"invalid JSON from the server: {e}") from None
        choices = getattr(resp, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise MalformedResponse("the answer has no choices")
        message = getattr(choices[0], "message", None)
        text = getattr(message, "content", None)
        if not isinstance(text, str):
            raise MalformedResponse("the first choice has no message content")
        usage = getattr(resp, "usage", None)
        p = int(getattr(usage, "prompt_tokens", 0) or 0)
        c = int(getattr(usage, "completion_tokens", 0) or 0)
        self.usage.prompt_tokens += p
        self.usage.completion_tokens += c
        return CachedAnswer(text, p, c)

    async def achat_many(
        self, batch: Sequence[Messages], **sampling: Any
    ) -> list[Completion | CallFailure]:
        """Many chats at once (bounded by ``concurrency``), results in input order."""

        async def one(msgs: Messages) -> Completion | CallFailure:
            try:
                return await self.chat(msgs, **sampling)
            except LLMError as e:
                return CallFailure(e.kind, str(e), e.attempts)

        return list(await asyncio.gather(*(one(m) for m in batch)))

    def chat_many(
        self, batch: Sequence[Messages], **sampling: Any
    ) -> list[Completion | CallFailure]:
        """Synchronous :meth:`achat_many` for code that is not async."""

        async def run() -> list[Completion | CallFailure]:
            try:
                return await self.achat_many(batch, **sampling)
            finally:
                await self.aclose()

        return asyncio.run(run())

    async def aclose(self) -> None:
        """Close this event loop's connections (call at the end of your own ``asyncio.run``)."""
        state = self._states.pop(id(asyncio.get_running_loop()), None)
        if state is not None:
            await state.sdk.close()

    def _short(self, exc: BaseException) -> str:
        """The first line of an error, with every secret masked."""
        return redact(
            _short(exc), self.api_key or api_key_from_env(), urlsplit(self.base_url).password
        )

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
