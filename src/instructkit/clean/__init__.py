"""Cleaning filters for `instructkit clean`: structure, refusals and GPT-isms, language, PII (see docs/cleaning.md)."""
