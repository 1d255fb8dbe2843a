"""For the HTTP client benchmark only (issue 24): httpx and aiohttp behind ``HttpStreamClient``'s interface.

``AICOCKPIT_HTTP_CLIENT=httpx`` or ``aiohttp`` makes the remote backend use one of
them, so the same bench run can interleave the three clients. Each library is
used as a user of it would: its own pool and keep-alive, no retries (the
router's decide), no proxies from the environment, and nothing opened ahead of
need (neither library offers that).
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager

from aicockpit.engine.http_stream import ConnectError, ConnectTimeout, HttpError, ReadTimeout


class LibraryResponse:
    def __init__(self, status: int, headers, body, sent_at: float) -> None:
        self.status = status
        self.headers = headers  # case-insensitive in both libraries
        self.sent_at = sent_at
        self.arrived_at = 0.0
        self._body = body  # one iterator: a reader may stop and go on in another loop

    async def chunks(self):
        async for data in self._body:
            self.arrived_at = time.perf_counter()
            yield data


class HttpxStreamClient:
    def __init__(self, base_url: str, connect_timeout: float, read_timeout: float) -> None:
        import httpx

        self._httpx = httpx
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=httpx.Limits(max_keepalive_connections=4, keepalive_expiry=4.0),
            transport=httpx.AsyncHTTPTransport(retries=0),
            trust_env=False,
        )

    def warm(self) -> None:
        pass

    async def aclose(self) -> None:
        await self._client.aclose()

    @asynccontextmanager
    async def stream(self, method: str, path: str, headers: dict[str, str], body: bytes):
        httpx = self._httpx
        sent = [0.0]

        async def trace(event: str, info: dict) -> None:
            if event == "http11.send_request_body.complete":
                sent[0] = time.perf_counter()

        try:
            async with self._client.stream(
                method, path, headers=headers, content=body, extensions={"trace": trace}
            ) as response:
                yield LibraryResponse(response.status_code, response.headers, response.aiter_raw(), sent[0])
        except httpx.ConnectTimeout as err:
            raise ConnectTimeout(str(err)) from None
        except httpx.TimeoutException as err:
            raise ReadTimeout(str(err)) from None
        except httpx.ConnectError as err:
            raise ConnectError(str(err)) from None
        except httpx.HTTPError as err:
            raise HttpError(str(err)) from None


class AiohttpStreamClient:
    def __init__(self, base_url: str, connect_timeout: float, read_timeout: float) -> None:
        self._base = base_url.rstrip("/") + "/"
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._session = None

    def _open(self):
        import aiohttp

        if self._session is None:
            sent_at = self._sent_at = {}

            async def chunk_sent(session, context, params) -> None:
                sent_at[id(context.trace_request_ctx)] = time.perf_counter()

            trace = aiohttp.TraceConfig()
            trace.on_request_chunk_sent.append(chunk_sent)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=4.0),
                timeout=aiohttp.ClientTimeout(
                    sock_connect=self._connect_timeout, sock_read=self._read_timeout
                ),
                trust_env=False,
                trace_configs=[trace],
                auto_decompress=False,
            )
        return self._session

    def warm(self) -> None:
        pass

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    @asynccontextmanager
    async def stream(self, method: str, path: str, headers: dict[str, str], body: bytes):
        import aiohttp

        session = self._open()
        trace_context = object()
        try:
            async with session.request(
                method, self._base + path, headers=headers, data=body, trace_request_ctx=trace_context
            ) as response:
                sent_at = self._sent_at.pop(id(trace_context), 0.0)
                yield LibraryResponse(response.status, response.headers, response.content.iter_any(), sent_at)
        except (aiohttp.ServerTimeoutError, TimeoutError) as err:
            raise ReadTimeout(str(err)) from None
        except aiohttp.ClientConnectorError as err:
            raise ConnectError(str(err)) from None
        except aiohttp.ClientError as err:
            raise HttpError(str(err)) from None
