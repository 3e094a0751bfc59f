"""A small fault-injecting OpenAI-compatible chat server on 127.0.0.1, for tests and benchmarks.

It answers ``POST /v1/chat/completions`` (and ``GET /v1/models``) from a thread
pool (``http.server``), after ``latency`` seconds, with text from ``responder``
(deterministic by default, so two runs of a pipeline give the same output).
Faults are scripted: ``faults`` is consumed one per request in arrival order
(``"429"`` with Retry-After, ``"500"`` or any other status, ``"timeout"`` = hang up after ``timeout_delay`` s,
``"malformed"`` = invalid JSON, ``"empty"`` = no choices, ``"ok"``);
``die_after=N`` closes the server after N completed answers (connections are
then refused); ``hang_after=N`` holds every later request unanswered (to kill a
client mid-run with calls in flight).  Every request is logged with its key (a
hash of model + messages + sampling) and whether a completion was sent, so a
test can count repeated completed calls.  Everything is bounded: a hang or a
slow answer waits at most ``max_wait`` seconds, and the server shuts itself
down after ``lifetime`` seconds.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

Responder = Callable[[list[dict[str, str]], dict[str, Any]], str]


def echo(messages: list[dict[str, str]], body: dict[str, Any]) -> str:
    """The default answer: a deterministic function of the last user message."""
    last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return f"Answer to: {last[:200]}"


def body_key(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class Entry:
    key: str
    fault: str
    status: int
    completed: bool
    started: float
    ended: float = 0.0


@dataclass
class FakeLLMServer:
    responder: Responder = echo
    latency: float = 0.0
    faults: list[str] = field(default_factory=list)
    retry_after: float = 0.2
    die_after: int | None = None
    hang_after: int | None = None
    max_wait: float = 10.0
    timeout_delay: float = 2.0
    lifetime: float = 300.0
    log: list[Entry] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._faults = list(self.faults)
        self._granted = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the body waits for the
            # client's delayed ACK (~40 ms), which is the server's fault, not the client's.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._send(
                    200,
                    json.dumps(
                        {"object": "list", "data": [{"id": "fake", "object": "model"}]}
                    ).encode(),
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server._handle(self, body)

            def _send(
                self, status: int, payload: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()

        ThreadingHTTPServer.request_queue_size = 256  # many clients connect at once
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def completed(self) -> int:
        with self._lock:
            return sum(e.completed for e in self.log)

    def completed_keys(self) -> list[str]:
        with self._lock:
            return [e.key for e in self.log if e.completed]

    def __enter__(self) -> Self:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._stopping.is_set():
            self._stopping.set()
            self._timer.cancel()
            threading.Thread(target=self._shutdown, daemon=True).start()
            self._thread.join(timeout=5)

    def _shutdown(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_fault(self) -> str:
        with (
            self._lock
        ):  # counts answers granted, not finished, so no more than hang_after complete
            if self.hang_after is not None and self._granted >= self.hang_after:
                return "hang"
            fault = self._faults.pop(0) if self._faults else "ok"
            self._granted += fault == "ok"
            return fault

    def _handle(self, h: Any, body: dict[str, Any]) -> None:
        if self._stopping.is_set():  # dead: hang up on kept-alive connections too
            h.close_connection = True
            return
        params = {k: v for k, v in body.items() if k not in ("model", "messages", "stream")}
        entry = Entry(
            body_key(
                {"model": body.get("model"), "messages": body.get("messages"), "params": params}
            ),
            "",
            0,
            False,
            time.monotonic(),
        )
        fault = entry.fault = self._next_fault()
        with self._lock:
            self.log.append(entry)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._answer(h, body, fault, entry)
        except (BrokenPipeError, ConnectionResetError):
            entry.status = -1  # the client gave up first
        finally:
            entry.ended = time.monotonic()
            with self._lock:
                self.in_flight -= 1
                done = sum(e.completed for e in self.log)
            if self.die_after is not None and done >= self.die_after:
                self.stop()

    def _answer(self, h: Any, body: dict[str, Any], fault: str, entry: Entry) -> None:
        if fault == "hang":
            self._stopping.wait(self.max_wait)
            h.close_connection = True
            return
        if fault == "timeout":  # answer nothing until the client has given up, then hang up
            self._stopping.wait(self.timeout_delay)
            h.close_connection = True
            return
        if self.latency:
            time.sleep(self.latency)
        if fault == "429":
            entry.status = 429
            err = {"error": {"message": "rate limited", "type": "rate_limit"}}
            h._send(429, json.dumps(err).encode(), {"Retry-After": str(self.retry_after)})
            return
        if fault == "500":
            entry.status = 500
            h._send(500, json.dumps({"error": {"message": "boom"}}).encode())
            return
        if fault.isdigit():  # any other HTTP status, e.g. "401" or "404"
            entry.status = int(fault)
            h._send(int(fault), json.dumps({"error": {"message": f"status {fault}"}}).encode())
            return
        if fault == "malformed":
            entry.status = 200
            h._send(200, b'{"id": "x", "choices": [ {"message": ')
            return
        messages = body.get("messages") or []
        text = self.responder(messages, body)
        choices = (
            []
            if fault == "empty"
            else [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ]
        )
        payload = {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"), "choices": choices,
            "usage": {"prompt_tokens": sum(len(m.get("content", "").split()) for m in messages),
                      "completion_tokens": len(text.split()), "total_tokens": 0},
        }  # fmt: skip
        entry.status = 200
        h._send(200, json.dumps(payload).encode())
        entry.completed = fault != "empty"


def main() -> None:
    """Serve from a separate process (benchmarks: no GIL shared with the client under test).

    Prints the base URL, serves until stdin closes, then prints the request log as JSON.
    """
    import argparse
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--lifetime", type=float, default=600.0)
    args = ap.parse_args()
    with FakeLLMServer(latency=args.latency, lifetime=args.lifetime) as srv:
        print(srv.base_url, flush=True)
        sys.stdin.read()
        log = [{"started": e.started, "ended": e.ended, "completed": e.completed} for e in srv.log]
    print(json.dumps({"log": log, "max_in_flight": srv.max_in_flight}), flush=True)


if __name__ == "__main__":
    main()


def kill_mid_flight(cmd: list[str], server: FakeLLMServer, answered: int) -> int:
    """Run ``cmd`` against ``server`` (started with ``hang_after=answered``) and SIGKILL it once the
    server has answered ``answered`` calls and holds the rest: returns how many calls were in flight.

    How the resume tests make "a run killed with completed and unanswered calls" happen for sure."""
    import os
    import signal
    import subprocess

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while server.completed() < answered and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(1.0)  # calls in flight stay unanswered; the answered ones reach the cache
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert server.completed() == answered
    return sum(not e.completed for e in server.log)
