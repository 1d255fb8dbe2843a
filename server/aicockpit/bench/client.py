"""A minimal LSP client over a subprocess's stdio: what an editor sends, timed at the client.

Hand-rolled (not pygls) so the measured latency is the pipe plus the server,
with little client machinery in between.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

READ_LIMIT = 64 * 1024 * 1024


class LspError(RuntimeError):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")


class LspClient:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def spawn(cls, command: list[str], env: dict[str, str]) -> LspClient:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            limit=READ_LIMIT,
        )
        return cls(process)

    def _write(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        self._process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method: str, params: Any) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def send(self, method: str, params: Any) -> tuple[int, asyncio.Future]:
        """Send a request; the future resolves to (result or LspError, receive time)."""
        msg_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        self._write({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id, future

    async def request(self, method: str, params: Any, timeout: float = 60) -> Any:
        _, future = self.send(method, params)
        result, _ = await asyncio.wait_for(future, timeout)
        if isinstance(result, LspError):
            raise result
        return result

    def cancel(self, msg_id: int) -> None:
        self.notify("$/cancelRequest", {"id": msg_id})

    async def _read(self) -> None:
        stream = self._process.stdout
        while True:
            length = None
            while True:
                line = await stream.readline()
                if not line:
                    self._fail_all()
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            if length is None:
                continue
            body = await stream.readexactly(length)
            received = time.perf_counter()
            message = json.loads(body)
            if "method" in message:
                if "id" in message:  # a server-to-client request: answer like a quiet editor
                    result = [None] * len(message.get("params", {}).get("items", [])) or None
                    if message["method"] != "workspace/configuration":
                        result = None
                    self._write({"jsonrpc": "2.0", "id": message["id"], "result": result})
                continue
            future = self._pending.pop(message.get("id"), None)
            if future is not None and not future.done():
                outcome = LspError(message["error"]) if "error" in message else message.get("result")
                future.set_result((outcome, received))

    def _fail_all(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the server closed its output"))
        self._pending.clear()

    async def close(self) -> int:
        """shutdown + exit, then wait for the process (killed if it lingers)."""
        try:
            await self.request("shutdown", None, timeout=60)
            self.notify("exit", None)
            await self._process.stdin.drain()
        except (ConnectionError, TimeoutError, LspError, OSError):
            pass
        try:
            return await asyncio.wait_for(self._process.wait(), 30)
        except TimeoutError:
            self._process.kill()
            return await self._process.wait()
        finally:
            self._reader.cancel()
