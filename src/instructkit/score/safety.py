"""Safety: the toxicity of the user and assistant turns, with the cleaning step's classifier.

One implementation (:func:`instructkit.models.toxicity.load_toxicity`), so a
record scored here and filtered by ``clean`` is judged the same way; the names
match the ones ``clean`` writes (``toxicity.user``, ``toxicity.assistant``: the
worst turn of that role) plus ``toxicity``, the worse of the two.  A record
without a turn of a role has no score for it (absent, not 0).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from instructkit.models.toxicity import DEFAULT_TOXICITY_MODEL, load_toxicity
from instructkit.schema import turn_texts


def score_safety(table: pa.Table, model: str = DEFAULT_TOXICITY_MODEL) -> dict[str, np.ndarray]:
    texts, rows, roles = turn_texts(table)
    n = table.num_rows
    out = {"toxicity.user": np.full(n, np.nan), "toxicity.assistant": np.full(n, np.nan)}
    keep = [
        i for i, (t, r) in enumerate(zip(texts, roles)) if r in ("user", "assistant") and t.strip()
    ]
    if keep:
        probs = load_toxicity(model).score([texts[i] for i in keep])
        for role in ("user", "assistant"):
            sel = np.array([roles[i] == role for i in keep])
            if sel.any():
                # fmax ignores the NaN start value: the worst turn of the role wins.
                np.fmax.at(out[f"toxicity.{role}"], rows[np.asarray(keep)[sel]], probs[sel])
    out["toxicity"] = np.fmax(out["toxicity.user"], out["toxicity.assistant"])
    return out
