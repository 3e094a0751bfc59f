"""Shared fixtures.  ``shared_data`` is the real third-party data beside the project
(``../shared/data``), which tests use when present and skip cleanly without."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path | None:
    env = os.environ.get("INSTRUCTKIT_SHARED_DATA")
    candidates = (
        [Path(env)] if env else [ROOT.parent / "shared" / "data", ROOT / ".." / "shared" / "data"]
    )
    for c in candidates:
        if (c / "instructions").is_dir():
            return c.resolve()
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    found = _shared_data_dir()
    if found is None:
        pytest.skip(
            "../shared/data is absent (set INSTRUCTKIT_SHARED_DATA to its path to run this test)"
        )
    return found
