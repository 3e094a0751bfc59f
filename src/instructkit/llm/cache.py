"""A persistent cache of chat completions, so a rerun after a crash repeats no completed call.

SQLite in WAL mode with ``synchronous=NORMAL``: every completed call is
committed on its own before the caller sees it, and WAL survives a killed
process (only a power loss can drop the last commits).  The key is a SHA-256
of model + messages + sampling parameters (JSON with sorted keys), so the same
request always finds its answer and any change in a parameter misses.  The
server address is deliberately not in the key: the same model id answers the
same way wherever it is served.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from instructkit.errors import InstructkitError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    text: str
    prompt_tokens: int
    completion_tokens: int


def request_key(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """The cache key of one chat request: stable across runs, processes and dict orders."""
    payload = orjson.dumps(
        {"model": model, "messages": messages, "params": params}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(payload).hexdigest()


class CompletionCache:
    """Key -> completion, one committed row per finished call; safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as e:
            raise InstructkitError(f"cannot open the LLM cache {self.path}: {e}") from None
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedAnswer | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, prompt_tokens, completion_tokens FROM completions WHERE key = ?",
                (key,),
            ).fetchone()
        return CachedAnswer(*row) if row else None

    def put(self, key: str, model: str, request: dict[str, Any], answer: CachedAnswer) -> None:
        """Commit one answer now (autocommit), before the caller uses it."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    model,
                    orjson.dumps(request).decode(),
                    answer.text,
                    answer.prompt_tokens,
                    answer.completion_tokens,
                    time.time(),
                ),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM completions").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
