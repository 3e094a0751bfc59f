"""Where steps run: on this machine (``local``), or on a Ray cluster."""
