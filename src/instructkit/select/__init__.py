"""Selection: a small, diverse, high-quality subset (Deita, LIMA), every pick explained.

- :mod:`.expression`: the ``--by`` score, a safe arithmetic expression over ``scores.*``.
- :mod:`.pool`: the per-record features, budgets (rows, per-source quotas, tokens), results.
- :mod:`.deita`, :mod:`.kcenter`, :mod:`.facility`, :mod:`.random`: the methods.
- :mod:`.features`: embedding text and token counts of a batch of records.
"""
