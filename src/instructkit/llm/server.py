"""The offline default: a real OpenAI-compatible server on the SmolLM2 GGUF, on a loopback port.

``python -m llama_cpp.server`` runs in a child process rather than in-process
so that the rest of the code path (HTTP, retries, cache) is exactly the one
used against vLLM or OpenAI.  The child is started on a free 127.0.0.1 port,
polled until ``/v1/models`` answers, and stopped on exit; on Linux it also
receives SIGKILL if this process dies (``PR_SET_PDEATHSIG``, set by a tiny launcher), so a killed run
leaves no orphan server behind.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self

from instructkit.errors import InstructkitError, MissingDependency
from instructkit.models.paths import smollm2_gguf

DEFAULT_ALIAS = "smollm2-135m-instruct"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Runs llama_cpp.server after asking the kernel to SIGKILL it when its parent dies (Linux's
#: PR_SET_PDEATHSIG), set inside the child rather than with ``preexec_fn``, which is unsafe with threads.
#: SIGKILL, not SIGTERM: the server keeps no state worth flushing, and it was seen to ignore SIGTERM
#: for over 8 s while generating, outliving a killed run.
_LAUNCHER = (
    "import ctypes, runpy, signal, sys\n"
    "if sys.platform.startswith('linux'):\n"
    "    ctypes.CDLL('libc.so.6').prctl(1, signal.SIGKILL)\n"
    "sys.argv[0] = 'llama_cpp.server'\n"
    "runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)\n"
)


class LocalServer:
    """``with LocalServer() as srv: LLMClient(srv.base_url, srv.model)``."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        alias: str = DEFAULT_ALIAS,
        n_ctx: int = 2048,
        startup_timeout: float = 120.0,
    ) -> None:
        self.model_path = model_path
        self.model = alias
        self.n_ctx = n_ctx
        self.startup_timeout = startup_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        try:
            import llama_cpp.server  # noqa: F401
        except ImportError:
            raise MissingDependency(
                "llama-cpp-python[server]", "llm", "the local LLM server"
            ) from None
        model = self.model_path or smollm2_gguf()
        self.port = free_port()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (open for the server's whole life)
        cmd = [
            sys.executable, "-c", _LAUNCHER,
            "--model", str(model), "--model_alias", self.model,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.n_ctx), "--verbose", "false",
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self._tail()
                self.stop()
                raise InstructkitError(
                    f"the local LLM server exited with code {self._proc.returncode}: {tail}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise InstructkitError(
            f"the local LLM server did not answer within {self.startup_timeout:.0f} s"
        )

    def _tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1][:300] if lines else "(no output)"

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
