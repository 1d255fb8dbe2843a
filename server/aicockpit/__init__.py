"""aicockpit: an AI pair-programming language server backed by vLLM."""

__version__ = "0.1.0"
