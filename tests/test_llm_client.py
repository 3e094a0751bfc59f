"""The LLM client against the fault-injecting fake server: retries, Retry-After, cache, failures."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from instructkit.errors import InstructkitError
from instructkit.llm import CallFailure, Completion, LLMClient
from instructkit.llm.cache import CompletionCache, request_key
from tests.fake_llm_server import FakeLLMServer

pytest.importorskip("openai")

MSG = [{"role": "user", "content": "List fruits."}]


def client(srv: FakeLLMServer, **kw: object) -> LLMClient:
    opts: dict = {
        "concurrency": 4,
        "timeout": 2.0,
        "max_retries": 3,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
    }
    opts.update(kw)
    return LLMClient(srv.base_url, "fake", **opts)


@pytest.mark.parametrize("fault", ["500", "malformed", "empty", "timeout"])
def test_retries_a_transient_fault_then_succeeds(fault: str) -> None:
    # A timeout is retried once (a silent server rarely answers later); other faults up to max_retries.
    faults = [fault] if fault == "timeout" else [fault, fault]
    with FakeLLMServer(faults=faults, timeout_delay=1.0) as srv:
        c = client(srv, timeout=0.5)
        [done] = c.chat_many([MSG], temperature=0)
    assert isinstance(done, Completion) and done.text == "Answer to: List fruits."
    n = len(faults)
    assert c.usage.retries == n and c.usage.calls == n + 1 and c.usage.failures == 0
    assert srv.completed() == 1


def test_retry_after_is_respected() -> None:
    with FakeLLMServer(faults=["429"], retry_after=0.6) as srv:
        c = client(srv, backoff_initial=0.01, backoff_max=0.01)
        t0 = time.monotonic()
        [done] = c.chat_many([MSG])
        waited = time.monotonic() - t0
    assert isinstance(done, Completion)
    assert waited >= 0.6, "the client retried before the server's Retry-After"
    assert srv.log[0].status == 429 and srv.log[1].completed


def test_failure_after_the_retries_is_reported_not_raised() -> None:
    with FakeLLMServer(faults=["500"] * 6) as srv:
        c = client(srv, max_retries=2)
        results = c.chat_many([MSG, [{"role": "user", "content": "other"}]])
    assert all(
        isinstance(r, CallFailure) and r.kind == "server_error" and r.attempts == 3 for r in results
    )
    assert c.usage.failures == 2 and len(srv.log) == 6


def test_dead_server_gives_connection_failures() -> None:
    with FakeLLMServer(die_after=1) as srv:
        c = client(srv, concurrency=1, max_retries=2)
        results = c.chat_many([[{"role": "user", "content": f"q{i}"}] for i in range(3)])
    assert isinstance(results[0], Completion)
    assert all(isinstance(r, CallFailure) and r.kind == "connection" for r in results[1:])


def test_cache_answers_a_repeated_request_without_calling(tmp_path: Path) -> None:
    db = tmp_path / "cache.db"
    with FakeLLMServer() as srv:
        c = client(srv, cache_path=db)
        first = c.chat_many([MSG], temperature=0.7, seed=3)
        c.close()
        c2 = client(srv, cache_path=db)
        again = c2.chat_many([MSG], temperature=0.7, seed=3)
        other = c2.chat_many([MSG], temperature=0.7, seed=4)
    assert again[0].cached and again[0].text == first[0].text
    assert not other[0].cached, "a different sampling parameter must miss the cache"
    assert srv.completed() == 2


def test_cache_key_ignores_dict_order() -> None:
    a = request_key("m", [{"role": "user", "content": "x"}], {"temperature": 0, "seed": 1})
    b = request_key("m", [{"content": "x", "role": "user"}], {"seed": 1, "temperature": 0})
    assert a == b and a != request_key(
        "m2", [{"role": "user", "content": "x"}], {"temperature": 0, "seed": 1}
    )


def test_cache_is_wal(tmp_path: Path) -> None:
    cache = CompletionCache(tmp_path / "c.db")
    assert cache._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrency_limit_is_kept() -> None:
    with FakeLLMServer(latency=0.1) as srv:
        c = client(srv, concurrency=3)
        c.chat_many([[{"role": "user", "content": f"q{i}"}] for i in range(12)])
    assert srv.max_in_flight == 3


@pytest.mark.parametrize("status", ["401", "404"])
def test_wrong_key_or_model_is_one_clear_error(status: str) -> None:
    with FakeLLMServer(faults=[status]) as srv:
        c = client(srv)
        with pytest.raises(InstructkitError, match="refused the request"):
            c.chat_many([MSG])
    assert len(srv.log) == 1, "an error retrying cannot fix must not be retried"


def test_api_key_is_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    c = LLMClient("http://127.0.0.1:9/v1", "fake", api_key="sk-secret-123")
    assert "sk-secret" not in repr(c)


def test_bad_concurrency_is_a_usage_error() -> None:
    with pytest.raises(InstructkitError):
        LLMClient("http://127.0.0.1:9/v1", "fake", concurrency=0)


def test_retry_after_forms() -> None:
    from types import SimpleNamespace

    from instructkit.llm.client import retry_after

    def exc(headers: dict[str, str]) -> Exception:
        e = Exception()
        e.response = SimpleNamespace(headers=headers)  # type: ignore[attr-defined]
        return e

    assert retry_after(exc({"retry-after": "3"})) == 3.0
    assert retry_after(exc({"retry-after-ms": "250"})) == 0.25
    assert retry_after(exc({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0  # in the past
    assert retry_after(exc({"retry-after": "soon"})) is None
    assert retry_after(exc({})) is None


def test_preflight_names_an_unreachable_server() -> None:
    with FakeLLMServer() as srv:
        client(srv).preflight()  # reachable: no error
    with pytest.raises(InstructkitError, match="cannot reach the LLM server"):
        LLMClient("http://127.0.0.1:9/v1", "fake").preflight(timeout=1)
