"""Deduplication engines behind the ``dedup`` step: each returns duplicate pairs, ``clusters`` keeps one per cluster.

- :mod:`.exact` — equal hashes of normalised text;
- :mod:`.shingles`, :mod:`.prefix`, :mod:`.near` — word n-gram shingles, exact prefix-filter candidates
  (:mod:`.minhash`: MinHash LSH, API only), verified by exact Jaccard;
- :mod:`.semantic` — sentence embeddings + :func:`instructkit.vector.neighbours`;
- :mod:`.clusters` — connected components and the keep-one rule;
- :mod:`.fields` — which text of a record is compared.
"""
