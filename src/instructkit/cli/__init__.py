"""The ``instructkit`` command line (typer + rich)."""
