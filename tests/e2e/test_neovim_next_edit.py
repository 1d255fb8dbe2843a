"""Next-edit suggestions in a real headless Neovim (0.11 and 0.12) with editors/neovim/aicockpit.lua.

Every role is a scripted model (tests/e2e/next_edit_model.py) that finishes the user's
renames in the region it is given, so the suggestions are known in advance and no engine
loads. The driver (nvim/next_edit.lua) types with Neovim's own key handling.
"""

from __future__ import annotations

import json

import pytest

from aicockpit.config import ROLES
from tests.e2e import next_edit_model
from tests.e2e.helpers import NVIM_VERSIONS, nvim_env, run_nvim
from tests.e2e.scripted_model import scripted
from tests.e2e.test_structural_next_edit import NEW_NAME, PARAMETER, real_function
from tests.fake_openai import FakeOpenAI
from tests.support import ROOT

DRIVER = ROOT / "tests" / "e2e" / "nvim" / "next_edit.lua"
RENAME_DRIVER = ROOT / "tests" / "e2e" / "nvim" / "structural_rename.lua"
GEOMETRY = "def area(width, height):\n    return width * height\n\n\nprint(area(2, 3))\n"
STEPS = 35  # far.py: its parameter's use is this many lines below, off a 24-line screen
FAR = "def scale(factor):\n" + "".join(f"    # step {n}\n" for n in range(STEPS)) + "    return factor * 2\n"


@pytest.mark.parametrize("version", NVIM_VERSIONS)
async def test_neovim_shows_next_edits_as_extmarks_and_its_keys_take_or_dismiss_them(tmp_path, version):
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "geometry.py").write_text(GEOMETRY)
    (root / "far.py").write_text(FAR)
    renames = next_edit_model.following_renames({"area": ["width", "height"], "scale": ["factor"]})
    # No completions: no ghost text beside the next edits.
    async with FakeOpenAI(answer=scripted(next_edits=renames)) as model:
        profile = next_edit_model.PROFILE
        init = {
            # No tokenizer: ready at once (token budgets estimated).
            "profiles": {profile: {**next_edit_model.profile(model.url), "tokenizer": None}},
            "roles": {role: {"profile": profile} for role in ROLES},
            "next_edit": {"region_lines": 40},  # far.py's last line is in the region
        }
        env = nvim_env(
            tmp_path, file=str(root / "geometry.py"), far=str(root / "far.py"), init=json.dumps(init)
        )
        out = await run_nvim(version, DRIVER, env, root)
    assert out.get("error") is None, (out.get("error"), out["steps"])

    # Nothing shown: <Tab> indented as ever (Python's ftplugin: four spaces); the mapping
    # exists only while a suggestion is shown.
    assert out["tab_line"] == "    "
    # After renaming `width` to `size`: its use below struck through, the new name inline beside it.
    assert out["shown"] == [
        {"row": 1, "col": 11, "hl": "AicockpitNextEditDelete", "removed": "width"},
        {"row": 1, "col": 16, "inserted": "size", "pos": "inline"},
    ], out["shown"]
    assert out["tab_mapped"] == {"n": True, "i": True}
    # <Tab> took it: the buffer changed as suggested, the cursor at the end of the change, the
    # extmarks and the keys gone, and the server counted it.
    assert out["after_accept"] == GEOMETRY.replace("width", "size").split("\n")[:-1]
    assert out["cursor_after_accept"] == [2, len("    return size")]
    assert out["marks_after_accept"] == [] and out["tab_mapped_after"] == {"n": False, "i": False}
    # In Insert mode, `height` renamed to `h`: the shared `h` stays, the rest is struck through;
    # <C-]> dismissed it, the text stayed as typed, still in Insert mode.
    assert [m.get("removed") for m in out["shown_insert"]] == ["eight"], out["shown_insert"]
    assert out["after_dismiss"][:2] == ["def area(size, h):", "    return size * height"]
    assert out["mode_after_dismiss"] == "i"
    # Typing on asked again, and <Tab> in Insert mode took it.
    assert out["after_accept_insert"][:2] == ["def area(size, h):", "    return size * h"]
    assert out["mode_after_accept_insert"] == "i"

    # Off screen: the cursor's line said where it is; the first <Tab> moved there (nothing
    # changed), the second applied it.
    last = STEPS + 1
    assert out["far_window"][1] < last + 1, out["far_window"]
    assert out["far_hint"] == {"row": 0, "text": f"  ↓ next edit at line {last + 1} (<Tab>)"}, out["far_hint"]
    assert out["cursor_after_jump"] == [last + 1, len("    return ")]
    assert out["far_after_jump"][last] == "    return factor * 2" and out["marks_after_jump"]
    assert out["far_after_accept"][last] == "    return k * 2"
    assert out["far_after_accept"][0] == "def scale(k):"


@pytest.mark.parametrize("version", NVIM_VERSIONS)
async def test_neovim_takes_a_rename_use_by_use_with_tab_until_none_is_left(tmp_path, version):
    """A parameter of a real function renamed with `ciw`, then <Tab> on each next edit shown
    (structural: the scripted model here never suggests anything)."""
    source, expected = real_function()
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    path = root / "version_letter.py"
    path.write_text(source)
    at = source.index(f"{PARAMETER}:")
    line = source[:at].count("\n")
    column = at - source.rfind("\n", 0, at) - 1
    async with FakeOpenAI(answer=scripted(next_edits=next_edit_model.UNCHANGED)) as model:
        profile = next_edit_model.PROFILE
        init = {
            "profiles": {profile: {**next_edit_model.profile(model.url), "tokenizer": None}},
            "roles": {role: {"profile": profile} for role in ROLES},
        }
        env = nvim_env(
            tmp_path, file=str(path), line=str(line + 1), col=str(column), new=NEW_NAME, init=json.dumps(init)
        )
        out = await run_nvim(version, RENAME_DRIVER, env, root)
    assert out.get("error") is None, out
    assert "\n".join(out["lines"]) + "\n" == expected
    uses = expected.count(NEW_NAME) - 1
    assert out["next_edit"]["by_source"]["rename"]["accepted"] == uses, out["next_edit"]
    assert uses <= out["tabs"] <= 2 * uses  # one <Tab> each, two for one off screen
