"""Ghost text in a real headless Neovim with editors/neovim/aicockpit.lua: drawn by the
integration on 0.11, Neovim's own vim.lsp.inline_completion on 0.12, the same keys on both.

Every role is a scripted model (tests/e2e/scripted_model.py) whose suggestion depends on
the cursor's line, so the ghost text is known in advance and no engine loads. The driver
(nvim/ghost_text.lua) types with Neovim's own key handling.
"""

from __future__ import annotations

import json

import pytest

from aicockpit.config import ROLES
from tests.e2e import next_edit_model
from tests.e2e.helpers import NVIM_VERSIONS, nvim_env, run_nvim
from tests.e2e.scripted_model import scripted
from tests.fake_openai import FakeOpenAI
from tests.support import ROOT

DRIVER = ROOT / "tests" / "e2e" / "nvim" / "ghost_text.lua"
ITEM_DRIVER = ROOT / "tests" / "e2e" / "nvim" / "completion_item.lua"
SOURCE = (
    "def subtotal(prices):\n    total = \n    return total\n\n\n"
    "def mean(values):\n    \n    return result\n\n"
)
MEAN = "result = sum(values) / len(values)\n    if result < 0:\n        raise ValueError(result)"
ANSWERS = {"    total = ": "sum(prices)", "    ": MEAN}  # "    ": a blank line of the body


def init_options(url: str) -> dict:
    profile = next_edit_model.PROFILE
    return {
        # No tokenizer: ready at once (token budgets estimated; Qwen's FIM tokens all the same).
        "profiles": {profile: {**next_edit_model.profile(url), "tokenizer": None}},
        "roles": {role: {"profile": profile} for role in ROLES},
        "next_edit": {"enabled": False},  # the suggestions here are the completion's alone
    }


async def drive(tmp_path, version: str, driver) -> dict:
    """Runs ``driver`` in Neovim ``version`` on shop.py, the scripted model answering."""
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "shop.py").write_text(SOURCE)
    async with FakeOpenAI(answer=scripted(completions=ANSWERS)) as model:
        env = nvim_env(tmp_path, file=str(root / "shop.py"), init=json.dumps(init_options(model.url)))
        out = await run_nvim(version, driver, env, root)
    assert out.get("error") is None, (out.get("error"), out["steps"])
    return out


@pytest.mark.parametrize("version", NVIM_VERSIONS)
async def test_neovim_shows_ghost_text_that_tab_takes_as_one_undo_step(tmp_path, version):
    out = await drive(tmp_path, version, DRIVER)
    assert out["native"] is (version == "0.12")

    # Nothing shown: <Tab> indented as ever.
    assert out["tab_line"] == "    "
    # The suggestion, inline at the cursor; typed through, the rest of it stays.
    assert out["shown"] == {"row": 1, "col": 12, "text": "sum(prices)", "pos": "inline", "below": []}
    assert out["typed_through"]["text"] == "m(prices)" and out["typed_through"]["col"] == 14
    # <Tab> took it, still in Insert mode; the server heard it was taken (stats counted it);
    # one `u` took back the suggestion alone, not what was typed before it.
    assert out["after_accept"] == "    total = sum(prices)" and out.get("ghost_after_accept") is None
    assert out["mode_after_accept"] == "i"
    assert out["after_undo"] == "    total = su"

    # Several lines: the first inline, the others below it; a word, a line, then the rest.
    first, *below = MEAN.split("\n")
    assert out["multi"]["text"] == first and out["multi"]["below"] == below
    assert out["after_word"] == "    result"
    assert out["multi_after_word"]["text"] == " = sum(values) / len(values)"
    assert out["after_line"] == "    " + first
    assert out["multi_after_line"]["below"] == below
    assert out["after_rest"] == ["    " + first, *below]

    # <C-]> took it down and left the text as typed; typing something else did too.
    assert out["after_dismiss"] == "    total = su" and out["mode_after_dismiss"] == "i"
    assert out.get("ghost_after_typing_on") is None
    if version == "0.11":
        # The answer to a request for a text changed meanwhile was not drawn.
        assert out["lines_after_stale"][-1] == "# changed meanwhile"
        assert out.get("ghost_after_stale") is None


@pytest.mark.parametrize("version", NVIM_VERSIONS)
async def test_without_ghost_text_the_suggestion_is_a_completion_item(tmp_path, version):
    """setup's ghost_text = false (nvim-cmp, blink.cmp, omnifunc): even Neovim 0.12, which has
    inline completion, does not declare it, so the server offers its completion item."""
    out = await drive(tmp_path, version, ITEM_DRIVER)
    assert out["completion_provider"] is True
    assert out["omnifunc"] == "v:lua.vim.lsp.omnifunc"
    # <C-x><C-o> asked the server and Neovim inserted its only match.
    assert out["line"] == "    total = sum(prices)"
    assert out["ghost_marks"] == 0 and not (out.get("tab_mapping") or "").startswith("aicockpit")
