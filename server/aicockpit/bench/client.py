"""A minimal LSP client over a subprocess's stdio: what an editor sends, timed at the client.

Hand-rolled (not pygls; it splits messages with the server's own framing) so
the measured latency is the pipe plus the server, with little client machinery
in between: an answer is timed when its last bytes reach this process, before
any parsing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, cast

from aicockpit.framing import MessageReader

NOTIFICATIONS_KEPT = 500


class LspError(RuntimeError):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")


class _ServerPipes(asyncio.SubprocessProtocol):
    """Splits the server's stdout into messages as the bytes arrive."""

    def __init__(self, on_message: Callable[[dict[str, Any], float], None], on_closed: Callable[[], None]):
        self._on_message = on_message
        self._on_closed = on_closed
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reader = MessageReader()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd != 1:
            return
        received = time.perf_counter()
        for message in self._reader.feed(data):
            self._on_message(message, received)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._on_closed()

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


class LspClient:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        # Answers awaited, by id: ours, and any a test adds (of any kind, null included).
        self._pending: dict[Any, asyncio.Future[tuple[Any, float]]] = {}
        # Every response by id, duplicates included: tests check that each request got exactly one.
        self.answers: Counter[Any] = Counter()
        # The server's latest notifications (window/showMessage, $/progress...), oldest first.
        self.notifications: deque[dict[str, Any]] = deque(maxlen=NOTIFICATIONS_KEPT)
        # Set by ``spawn``, the way to make a client.
        self._transport: asyncio.SubprocessTransport
        self._pipes: _ServerPipes
        # Server-to-client requests of these methods are kept in ``held``, never answered: a slow editor.
        self.unanswered: set[str] = set()
        self.held: list[dict[str, Any]] = []

    @classmethod
    async def spawn(
        cls, command: list[str], env: dict[str, str], stderr: Any = asyncio.subprocess.DEVNULL
    ) -> LspClient:
        client = cls()
        loop = asyncio.get_running_loop()
        client._transport, client._pipes = await loop.subprocess_exec(
            lambda: _ServerPipes(client._on_message, client._fail_all),
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
        return client

    @classmethod
    async def spawn_logging(cls, command: list[str], env: dict[str, str], log: str | None) -> LspClient:
        """``spawn``, with the server's stderr appended to the file ``log`` (or dropped)."""
        if not log:
            return await cls.spawn(command, env)
        with open(log, "ab") as stderr:  # the server holds its own copy
            return await cls.spawn(command, env, stderr=stderr)

    def cpu_seconds(self) -> float | None:
        """The server process's CPU time so far (user + system; Linux only, else None)."""
        try:
            with open(f"/proc/{self._transport.get_pid()}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _stdin(self) -> asyncio.WriteTransport:
        return cast(asyncio.WriteTransport, self._transport.get_pipe_transport(0))  # spawned with a pipe

    def _write(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        self._stdin().write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    @property
    def pid(self) -> int:
        return self._transport.get_pid()

    def write_raw(self, data: bytes) -> None:
        """Bytes exactly as given: tests send broken framing and hostile messages."""
        self._stdin().write(data)

    def close_input(self) -> None:
        self._stdin().close()

    def notify(self, method: str, params: Any) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def send(self, method: str, params: Any) -> tuple[int, asyncio.Future[tuple[Any, float]]]:
        """Send a request; the future resolves to (result or LspError, receive time)."""
        msg_id = next(self._ids)
        future: asyncio.Future[tuple[Any, float]] = asyncio.get_running_loop().create_future()
        if self._pipes.exited.done():  # nobody would answer: fail now, not at the caller's timeout
            future.set_exception(ConnectionError("the server has ended"))
            return msg_id, future
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

    def _on_message(self, message: dict[str, Any], received: float) -> None:
        if "method" in message:
            if "id" not in message:
                self.notifications.append(message)
            elif message["method"] in self.unanswered:
                self.held.append(message)
            else:  # a server-to-client request: answer like a quiet editor
                result = None
                if message["method"] == "workspace/configuration":
                    result = [None] * len(message.get("params", {}).get("items", [])) or None
                self._write({"jsonrpc": "2.0", "id": message["id"], "result": result})
            return
        if isinstance(message.get("id"), int | str):
            self.answers[message["id"]] += 1
        future = self._pending.pop(message.get("id"), None)
        if future is not None and not future.done():
            outcome = LspError(message["error"]) if "error" in message else message.get("result")
            future.set_result((outcome, received))

    def _fail_all(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the server closed its output"))
        self._pending.clear()

    async def close(self) -> int | None:
        """shutdown + exit, then wait for the process (killed if it lingers)."""
        try:
            await self.request("shutdown", None, timeout=60)
            self.notify("exit", None)
        except (ConnectionError, TimeoutError, LspError, OSError):
            pass
        try:
            await asyncio.wait_for(asyncio.shield(self._pipes.exited), 30)
        except TimeoutError:
            self._transport.kill()
            await self._pipes.exited
        finally:
            self._transport.close()
        return self._transport.get_returncode()
