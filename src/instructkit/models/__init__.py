"""Model loading at the edge: every model loads lazily, once per process, from a package
that ships it (offline default) or from a hub id / local path given by the user."""
