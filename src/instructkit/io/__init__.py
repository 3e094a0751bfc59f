"""Reading inputs into record batches and writing them out: the edges of the core."""
