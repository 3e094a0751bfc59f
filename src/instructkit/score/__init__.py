"""Per-record quality metrics (complexity, perplexity/IFD, factual consistency, safety, format).

Each module computes numbers for a list of texts and knows nothing of records;
:mod:`instructkit.steps.score` maps them onto ``scores`` and ``meta``.
"""
