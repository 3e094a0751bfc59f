"""LLM access: an OpenAI-compatible async client, its crash-safe cache, and the offline local server."""

from instructkit.llm.client import CallFailure, Completion, LLMClient, LLMError, Usage

__all__ = ["CallFailure", "Completion", "LLMClient", "LLMError", "Usage"]
