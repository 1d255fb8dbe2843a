"""The streaming shapes of OpenAI-compatible servers other than vLLM, for tests/fake_openai.py.

Written from reading each server's own code (not copied), so the remote
backend can be tested against them without running them here:

- ``ollama``: Ollama's OpenAI layer (``openai/openai.go``, ``middleware/openai.go``).
  With ``include_usage`` every /v1/completions chunk carries an all-zero
  ``usage``; the real counts come in a last chunk with no choices. Chat sends
  the role with the first piece, ``finish_reason`` in a chunk of its own with an
  empty delta, then the usage chunk. No cached-token count. An error after the
  stream started becomes an empty chunk, and the stream ends without ``[DONE]``.
- ``llamacpp``: llama.cpp's ``llama-server`` (``tools/server/``). The last
  /v1/completions chunk has the ``finish_reason`` *and* ``usage`` (always, asked
  or not) plus ``timings``; chat opens with ``{"role": "assistant", "content":
  null}``, ends with an empty-delta finish chunk and a usage chunk. Recent builds
  put ``prompt_tokens_details.cached_tokens`` in usage; ``timings.cache_n`` is the
  same count. An error mid-stream is ``data: {"error": {...}}`` and the stream ends.
- ``llamacpp_old``: builds before ``prompt_tokens_details``: cached tokens only in
  ``timings.cache_n``.
- ``litellm``: LiteLLM's proxy as seen here (1.108.0 in front of vLLM): a finish
  chunk without text, then usage (``cached_tokens`` passed through) in a chunk
  whose ``choices`` is not empty.
"""

from __future__ import annotations

from typing import Any

DIALECTS = ("openai", "ollama", "llamacpp", "llamacpp_old", "litellm")
PROMPT_TOKENS = 7
CACHED_TOKENS = 4

# What each server answers when it refuses a request before streaming (status, body).
REJECTIONS = {
    "ollama": (404, {"error": {"message": 'model "m" not found, try pulling it first',
                               "type": "not_found_error", "param": None, "code": None}}),
    "llamacpp": (400, {"error": {"code": 400, "message": "Unsupported param: suffix",
                                 "type": "invalid_request_error"}}),
}  # fmt: skip
REJECTIONS["llamacpp_old"] = REJECTIONS["llamacpp"]


def _choice(text: str | None, chat: bool, finish: str | None, role: bool = False) -> dict[str, Any]:
    if chat:
        delta: dict[str, Any] = {} if text is None else {"content": text}
        if role:
            delta = {"role": "assistant", **delta}
        return {"index": 0, "delta": delta, "finish_reason": finish}
    return {"text": text or "", "index": 0, "finish_reason": finish}


def _chunk(choices: list, chat: bool, **extra: Any) -> dict[str, Any]:
    kind = "chat.completion.chunk" if chat else "text_completion"
    return {"id": "cmpl-1", "object": kind, "created": 1, "model": "m", "choices": choices, **extra}


def _usage(completion: int, cached: bool) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion,
        "total_tokens": PROMPT_TOKENS + completion,
    }
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": CACHED_TOKENS}
    return usage


def _timings(completion: int) -> dict[str, Any]:
    return {
        "cache_n": CACHED_TOKENS, "prompt_n": PROMPT_TOKENS - CACHED_TOKENS, "prompt_ms": 3.1,
        "prompt_per_token_ms": 1.03, "prompt_per_second": 967.7, "predicted_n": completion,
        "predicted_ms": 9.5, "predicted_per_token_ms": 4.75, "predicted_per_second": 210.5,
    }  # fmt: skip


def stream(dialect: str, pieces: tuple[str, ...], chat: bool, usage: bool, broken: bool) -> list[Any]:
    """The events (dicts, or the string ``[DONE]``) one streamed answer consists of.

    ``usage``: the client asked for it (``stream_options.include_usage``) and the
    server honours that. ``broken``: the server fails after the first piece.
    """
    n = len(pieces)
    if dialect == "ollama":
        zero = {"usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}} if usage else {}
        events: list[Any] = []
        for index, piece in enumerate(pieces):
            events.append(
                _chunk([_choice(piece, chat, None, role=index == 0)], chat, **({} if chat else zero))
            )
            if broken:  # its error object turns into an empty chunk; then the stream just ends
                return [*events, _chunk([_choice("", chat, None)], chat, **({} if chat else zero))]
        events.append(_chunk([_choice(None if chat else "", chat, "stop")], chat, **({} if chat else zero)))
        if usage:
            events.append(_chunk([], chat, usage=_usage(n, cached=False)))
        return [*events, "[DONE]"]
    if dialect in ("llamacpp", "llamacpp_old"):
        details = dialect == "llamacpp"
        events = [_chunk([_choice(None, chat, None, role=True)], chat)] if chat else []
        for piece in pieces:
            events.append(_chunk([_choice(piece, chat, None)], chat))
            if broken:
                error = {"code": 500, "message": "failed to decode the batch", "type": "server_error"}
                return [*events, {"error": error}]
        if chat:
            events.append(_chunk([_choice(None, chat, "length")], chat))
            if usage:
                events.append(_chunk([], chat, usage=_usage(n, details)))
            events[-1]["timings"] = _timings(n)
        else:  # usage whether asked for or not, in the finishing chunk
            events.append(
                _chunk([_choice("", chat, "length")], chat, usage=_usage(n, details), timings=_timings(n))
            )
        return [*events, "[DONE]"]
    if dialect == "litellm":
        events = [_chunk([_choice(piece, chat, None, role=i == 0)], chat) for i, piece in enumerate(pieces)]
        events.append(
            _chunk([{"index": 0, "finish_reason": "stop", **({"delta": {}} if chat else {})}], chat)
        )
        if usage:
            events.append(
                _chunk([{"index": 0, **({"delta": {}} if chat else {})}], chat, usage=_usage(n, True))
            )
        return [*events, "[DONE]"]
    raise ValueError(f"unknown dialect {dialect!r}; known: {', '.join(DIALECTS)}")
