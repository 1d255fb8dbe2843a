"""Helix (25.07.1, Debian sid's, scripts/setup-editors.sh) with the README's languages.toml,
driven through tmux as a user drives it: the suggestion in its completion menu, an AI code
action and "Apply suggested edit" through `space a`, and Explain, the one chat Helix can
reach (custom requests it cannot send), answered in its status line.

Every role is a scripted model (tests/e2e/scripted_model.py): what each step shows is known.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from aicockpit.config import ROLES
from tests.e2e import next_edit_model
from tests.e2e.scripted_model import scripted
from tests.e2e.terminal import Terminal
from tests.fake_openai import FakeOpenAI
from tests.support import ROOT, server_env

HELIX = ROOT / ".cache" / "sid-root" / "bin" / "hx"
ARTIFACTS = ROOT / "artifacts" / "helix"
LOOP = "def count(items: list[int]) -> int:\n    n = 0\n    for _ in items:\n        n += 1\n    return n"
COUNT = "def count(items: list[int]) -> int:\n    return len(items)"
SOURCE = f"""def area(width, height):
    return width * height


def subtotal(prices: list[int]) -> int:
    total = 
    return total


# ai: rewrite this with len()
{LOOP}
"""
ANSWER = "It multiplies the width by the height."
MODEL = scripted(
    completions={"    total = ": "sum(prices)"},
    edits={"rewrite this with len()": COUNT},
    next_edits=next_edit_model.following_renames({"area": ["width", "height"]}),
    chat=ANSWER,
)


def readme_languages_toml() -> dict:
    """The languages.toml of the README's Helix section, as a user copies it."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Helix") :]
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block, "the README's Helix section shows a languages.toml"
    return tomllib.loads(block.group(1).replace("/path/to/aicockpit", str(ROOT)))


def toml(value) -> str:
    """A TOML value (inline tables for tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {toml(v)}' for k, v in value.items()) + " }"
    return str(value)


def languages_toml(config: dict) -> str:
    """``config``'s two tables (language servers, languages) as Helix's languages.toml."""
    out = []
    for name, server in config["language-server"].items():
        out.append(f'[language-server."{name}"]')
        out += [f'"{k}" = {toml(v)}' for k, v in server.items()]
    for language in config["language"]:
        out.append("[[language]]")
        out += [f'"{k}" = {toml(v)}' for k, v in language.items()]
    return "\n".join(out) + "\n"


async def normal_mode(terminal: Terminal) -> None:
    """Escape, and wait for it: a key sent right after it would make it Alt+key."""
    terminal.keys("Escape")
    await terminal.wait_for(lambda s: " NOR " in s[-2], "Normal mode")


def menu_rows(screen: list[str], titles: list[str]) -> list[int]:
    return [n for n, line in enumerate(screen) for t in titles if t in line]


async def test_helix_with_the_readme_config_completes_edits_and_explains(tmp_path):
    assert HELIX.exists(), "Helix comes with scripts/setup-editors.sh; run scripts/setup.sh"
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "shop.py").write_text(SOURCE)
    config = readme_languages_toml()
    aicockpit = config["language-server"]["aicockpit"]
    assert aicockpit["command"] == str(ROOT / ".venv" / "bin" / "aicockpit") and aicockpit["args"] == [
        "serve"
    ]
    assert (
        "aicockpit"
        in next(lang for lang in config["language"] if lang["name"] == "python")["language-servers"]
    )
    terminal = Terminal(tmp_path)
    async with FakeOpenAI(answer=MODEL) as model:
        # The test's own model for every role, beside what the README sets.
        profile = {k: v for k, v in next_edit_model.profile(model.url).items() if k != "tokenizer"}
        aicockpit.setdefault("config", {}).update(
            profiles={"scripted": profile}, roles={role: {"profile": "scripted"} for role in ROLES}
        )
        (tmp_path / "config" / "helix").mkdir(parents=True)
        (tmp_path / "config" / "helix" / "languages.toml").write_text(languages_toml(config))
        env = {
            **{k: v for k, v in server_env().items() if k in ("PYTHONPATH", "AICOCKPIT_CACHE_DIR", "PATH")},
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "TERM": "tmux-256color",
        }
        terminal.start([str(HELIX), "shop.py"], env, root)
        try:
            await drive(terminal, root, tmp_path / "cache" / "helix" / "helix.log")
        finally:
            terminal.png(ARTIFACTS / "last-screen.png")
            terminal.close()


async def drive(terminal: Terminal, root: Path, log: Path) -> None:
    # Helix logs the server's stderr: its first workspace index says it has started.
    await terminal.wait_for(lambda s: log.exists() and "indexed" in log.read_text(), "aicockpit to start")

    # Typing after `total = `: the model's suggestion in the completion menu, labelled with
    # the word it completes; Tab selects it, Enter takes it.
    terminal.type(":6")
    terminal.keys("Enter", "A")
    terminal.type("su")
    screen = await terminal.wait_for(lambda s: any("sum(prices)" in line for line in s[6:9]), "the menu")
    terminal.png(ARTIFACTS / "completion-menu.png", rows=(0, 10))
    terminal.keys("Tab", "Enter")
    await terminal.wait_for(lambda s: s[5].endswith("total = sum(prices)"), "the suggestion taken")
    await normal_mode(terminal)

    # `space a` on the function under the instruction: "Apply AI instruction", the first
    # entry (selected), applied by Enter.
    terminal.type(":11")
    terminal.keys("Enter", "Space", "a")
    screen = await terminal.wait_for(lambda s: menu_rows(s, ["Apply AI instruction"]), "the code actions")
    titles = [
        "Apply AI instruction: rewrite this with len()",
        "Add docstring with AI",
        "Explain this code with AI",
    ]
    assert len(menu_rows(screen, titles)) == 3, "\n".join(screen)
    terminal.keys("Enter")
    await terminal.wait_for(lambda s: any(line.endswith("    return len(items)") for line in s), "the edit")

    # Renaming `width` by hand: "Apply suggested edit" (computed as Helix asks for the code
    # actions: README's next_edit.in_code_actions) renames its use below.
    terminal.keys("g", "g")
    terminal.type("/width")
    terminal.keys("Enter", "c")
    terminal.type("size")
    await terminal.wait_for(lambda s: "def area(size," in s[0], "the rename typed")
    await normal_mode(terminal)
    terminal.keys("Space", "a")
    screen = await terminal.wait_for(lambda s: menu_rows(s, ["Apply suggested edit"]), "the suggested edit")
    terminal.keys("Enter")
    await terminal.wait_for(lambda s: s[1].endswith("return size * height"), "the next edit applied")

    # Explain: the answer in Helix's status line.
    terminal.keys("Space", "a")
    screen = await terminal.wait_for(lambda s: menu_rows(s, ["Explain this code with AI"]), "the actions")
    first = menu_rows(screen, ["Add docstring with AI", "Explain this code with AI"])
    terminal.keys(*["C-n"] * (menu_rows(screen, ["Explain this code with AI"])[0] - first[0]), "Enter")
    await terminal.wait_for(lambda s: ANSWER in s[-1], "the answer")

    terminal.type(":w")
    terminal.keys("Enter")
    expected = (
        SOURCE.replace("width", "size")
        .replace("    total = \n", "    total = sum(prices)\n")
        .replace("# ai: rewrite this with len()\n", "")
        .replace(LOOP, COUNT)
    )
    await terminal.wait_for(
        lambda s: (root / "shop.py").read_text() == expected, "the file written as expected"
    )
