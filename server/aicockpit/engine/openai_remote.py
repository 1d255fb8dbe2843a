"""A remote OpenAI-compatible backend: vllm serve, Ollama, llama.cpp's server, LiteLLM.

Streams ``/v1/completions`` (the prompt as the prompt layer built it, with the
``suffix`` field for APIs that take one) and ``/v1/chat/completions`` (edits and
chat) with server-sent events; nothing in a request is laid out here. A stream
read to its end leaves its connection open for the next request; closing the
generator before that closes the connection, and vLLM aborts a request whose
client went away. Anything that is not a well-formed stream becomes a
``BackendError`` naming what was wrong; the routing layer decides what to do.

The API key is read from the environment variable the profile names and only
ever goes into the Authorization header: never into logs, errors or stats.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import msgspec

from aicockpit.config import ProfileConfig
from aicockpit.engine.base import BackendError
from aicockpit.engine.http_stream import (
    ConnectTimeout,
    HttpError,
    HttpResponse,
    HttpStreamClient,
    ReadTimeout,
)
from aicockpit.generation import GenerationDelta, GenerationRequest, PromptFormat, TokenCounter

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 1 << 20  # one SSE line; a server sending more without a newline is broken
MAX_ERROR_BODY = 2048
CHARS_PER_TOKEN = 4


MAX_STOPS = 4  # the OpenAI API takes at most four stop strings


class ApproxTokenizer:
    """Token budgets without the model's tokenizer: about four characters a token."""

    def __init__(self, special: set[str] | None = None) -> None:
        self._special = special or set()

    def count(self, text: str) -> int:
        return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN

    def head(self, text: str, tokens: int) -> str:
        return text[: tokens * CHARS_PER_TOKEN]

    def tail(self, text: str, tokens: int) -> str:
        return text[len(text) - tokens * CHARS_PER_TOKEN :] if tokens else ""

    def special_tokens(self) -> set[str]:
        return set(self._special)


def load_tokenizer(profile: ProfileConfig) -> TokenCounter:
    """The profile's tokenizer (local files only: nothing is downloaded), or an estimate."""
    if profile.tokenizer:
        from aicockpit.engine.tokenizer import load_local_tokenizer

        return load_local_tokenizer(profile.tokenizer)
    return ApproxTokenizer()


def prompt_format(profile: ProfileConfig) -> PromptFormat:
    """What this server takes. Without a tokenizer nothing tells the model's FIM tokens: qwen's."""
    template = profile.fim_template
    if template == "auto" and not profile.tokenizer:
        template = "qwen"
    return PromptFormat(
        template=template,
        suffix_field=profile.fim_mode == "suffix",
        chat_api=True,
        max_stops=MAX_STOPS,
        context_length=profile.context_length,
    )


def message_dicts(messages: Any) -> list[dict[str, str]]:
    """Chat messages as plain dicts, whether given as ``ChatMessage`` or as mappings."""
    out = []
    for message in messages:
        if isinstance(message, Mapping):
            out.append({"role": str(message["role"]), "content": str(message["content"])})
        else:
            out.append({"role": message.role, "content": message.content})
    return out


class OpenAIRemoteEngine:
    """One profile's remote server. Cheap to build; connects on the first request (or on ``warm``).

    Requests go through ``HttpStreamClient`` (engine/http_stream.py), which keeps
    connections warm. Like the httpx client used before (whose own transport left
    proxy variables unused), it connects straight to the profile's URL.
    """

    def __init__(self, profile: ProfileConfig, tokenizer: TokenCounter | None = None) -> None:
        self.profile = profile
        self.model_name = profile.model
        self.tokenizer: TokenCounter = tokenizer or load_tokenizer(profile)
        self.prompt_format = prompt_format(profile)
        # No retries in the transport: our own retries and breaker decide.
        self._http = HttpStreamClient(
            profile.url, profile.connect_timeout_ms / 1000, profile.idle_timeout_ms / 1000
        )
        self._active = 0

    def unfinished_requests(self) -> int:
        return self._active

    def failure(self) -> str | None:
        return None  # a remote server's failures are per request: retries, fallbacks, the breaker

    def unresponsive(self, limit_s: float) -> str | None:
        return None  # its requests have time limits of their own (connect, idle, first token)

    def shutdown(self) -> None:
        """Nothing to stop on the remote side; open streams close with their generators."""

    def warm(self) -> None:
        """Have a connection open before the next request needs one (in the background)."""
        self._http.warm()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self.profile.api_key_env:
            key = os.environ.get(self.profile.api_key_env)
            if not key:
                raise BackendError(
                    f"the environment variable {self.profile.api_key_env} (API key) is not set",
                    retryable=False,
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def payload(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        """The endpoint and JSON body for ``request``."""
        profile = self.profile
        body: dict[str, Any] = {
            **profile.extra_body,  # never over the fields below
            "model": profile.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.top_p != 1.0:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop"] = list(request.stop)
        if request.messages is not None:
            body["messages"] = message_dicts(request.messages)
            return "chat/completions", body
        body["prompt"] = request.prompt
        if request.suffix is not None:
            body["suffix"] = request.suffix
        return "completions", body

    def _prompt_estimate(self, body: dict[str, Any]) -> int:
        text = body.get("prompt") or "".join(m["content"] for m in body.get("messages", ()))
        try:
            return self.tokenizer.count(text)
        except Exception:  # an estimate must never fail a request
            return len(text) // 4

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationDelta, None]:
        endpoint, body = self.payload(request)
        chat = endpoint == "chat/completions"
        self._active += 1
        try:
            headers = {**self._headers(), "Content-Type": "application/json"}
            async with self._http.stream("POST", endpoint, headers, msgspec.json.encode(body)) as response:
                await _check_response(response)
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind == "application/json":  # a server that ignored "stream": one whole answer
                    yield _whole_answer(await _read_limited(response, MAX_LINE_BYTES), chat)
                    return
                if kind != "text/event-stream":
                    raise BackendError(f"expected an event stream, got content type {kind or 'none'!r}")
                # Usage arrives only at the end of a stream; a consumer that stops early
                # (the scheduler does at a line's end) still learns the prompt's size.
                estimate = self._prompt_estimate(body)
                async for delta in _events(response, chat):
                    delta.prompt_tokens = delta.prompt_tokens or estimate
                    delta.sent_at = response.sent_at  # the backend's time starts there
                    yield delta
        except (ConnectTimeout, ReadTimeout) as err:
            raise BackendError(f"{type(err).__name__}: no answer in time from {self.profile.url}") from None
        except HttpError as err:
            raise BackendError(f"{type(err).__name__}: {err or 'connection failed'}") from None
        except (ValueError, TypeError, AttributeError, KeyError) as err:  # garbage shaped like JSON
            raise BackendError(f"malformed answer ({type(err).__name__}: {err})") from None
        finally:
            self._active -= 1


async def _check_response(response: HttpResponse) -> None:
    if response.status < 400:
        return
    detail = (await _read_limited(response, MAX_ERROR_BODY)).decode("utf-8", "replace").strip()
    try:
        error = msgspec.json.decode(detail)
        detail = str(error.get("error", {}).get("message") or error.get("message") or detail)
    except (ValueError, AttributeError):
        pass
    retryable = response.status >= 500 or response.status in (408, 429)
    raise BackendError(f"HTTP {response.status}: {detail[:300]}", retryable=retryable)


async def _read_limited(response: HttpResponse, limit: int) -> bytes:
    data = b""
    async for chunk in response.chunks():
        data += chunk
        if len(data) > limit:
            break
    return data[:limit]


async def _lines(response: HttpResponse) -> AsyncIterator[tuple[bytes, float]]:
    """The stream's lines (bytes: msgspec decodes the JSON in them as is), each with the time its last
    bytes arrived."""
    buffer = b""
    async for chunk in response.chunks():
        at = response.arrived_at
        buffer += chunk
        while (cut := buffer.find(b"\n")) >= 0:
            line, buffer = buffer[:cut], buffer[cut + 1 :]
            yield line.rstrip(b"\r"), at
        if len(buffer) > MAX_LINE_BYTES:
            raise BackendError(f"an event line longer than {MAX_LINE_BYTES} bytes")
    if buffer.strip():
        yield buffer, response.arrived_at


async def _events(response: HttpResponse, chat: bool) -> AsyncIterator[GenerationDelta]:
    """Parse the SSE stream; usage arrives in a last chunk (with or without choices)."""
    finish_reason = None
    usage: dict[str, Any] = {}
    timings: dict[str, Any] = {}  # llama.cpp's, on its last chunk
    generated = 0
    async for line, at in _lines(response):
        if not line.startswith(b"data:"):
            continue  # comments (keep-alives), event names, blank separators
        data = line[5:].strip()
        if data == b"[DONE]":
            final = _final(finish_reason, usage, generated, timings)
            final.received_at = at
            yield final
            try:  # the body's end (usually here already): then the connection serves the next request
                async for _ in response.chunks():
                    pass
            except HttpError:
                pass  # the answer was complete; the connection is closed instead of kept
            return
        try:
            event = msgspec.json.decode(data)
        except ValueError:
            raise BackendError(f"malformed event in the stream: {_shown(data)!r}") from None
        if not isinstance(event, dict):
            raise BackendError(f"unexpected event in the stream: {_shown(data)!r}")
        if "error" in event:
            raise BackendError(f"the server reported an error: {str(event['error'])[:300]}")
        if isinstance(event.get("usage"), dict):
            usage = event["usage"]  # Ollama zeroes it on every chunk until the last: the last wins
        if isinstance(event.get("timings"), dict):
            timings = event["timings"]
        for choice in event.get("choices") or ():
            text = _choice_text(choice, chat)
            if text:
                generated += 1
                yield GenerationDelta(text=text, generated_tokens=generated, received_at=at)
            finish_reason = choice.get("finish_reason") or finish_reason
    if finish_reason is None:
        raise BackendError("the stream ended before the answer was complete")
    yield _final(finish_reason, usage, generated, timings)  # servers that finish without [DONE]


def _shown(data: bytes) -> str:
    return data[:120].decode("utf-8", "replace")


def _choice_text(choice: Any, chat: bool) -> str:
    if not isinstance(choice, dict):
        raise BackendError("a stream chunk has a malformed choice")
    text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
    if text is not None and not isinstance(text, str):
        raise BackendError("a stream chunk's text is not a string")
    return text or ""


def _final(finish_reason: str | None, usage: Any, generated: int, timings: Any = None) -> GenerationDelta:
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached = details.get("cached_tokens")
    if cached is None and isinstance(timings, dict):
        cached = timings.get("cache_n")  # llama.cpp builds without prompt_tokens_details
    return GenerationDelta(
        text="",
        finished=True,
        finish_reason=str(finish_reason) if finish_reason is not None else None,
        prompt_tokens=_count(usage.get("prompt_tokens")),
        cached_tokens=_count(cached),
        generated_tokens=_count(usage.get("completion_tokens")) or generated,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _whole_answer(data: bytes, chat: bool) -> GenerationDelta:
    try:
        answer = msgspec.json.decode(data)
        choice = answer["choices"][0]
        text = choice["message"]["content"] if chat else choice["text"]
        if not isinstance(text, str):
            raise TypeError("text is not a string")
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise BackendError(f"malformed JSON answer ({type(err).__name__}): {data[:120]!r}") from None
    final = _final(choice.get("finish_reason") or "stop", answer.get("usage") or {}, 1, answer.get("timings"))
    final.text = text
    return final
