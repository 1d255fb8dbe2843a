"""A real headless Neovim (0.11 and 0.12) using aicockpit on the embedded engine: ghost text,
the instruction code action and an edit reviewed as a diff, a streamed chat, Explain and the
sessions picker, and the progress shown meanwhile."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import NVIM_VERSIONS, nvim_env, run_nvim
from tests.support import ROOT, scratch_workspace

DRIVER = Path(__file__).parent / "nvim" / "drive.lua"
SOURCE = '''"""Orders."""


def subtotal(prices: list[int]) -> int:
    total = 0
    for price in prices:
        total += price
    return total


# ai: rewrite this with sum()
def count(items: list[int]) -> int:
    n = 0
    for _ in items:
        n += 1
    return n


def last_function() -> None:
    return None
'''


@pytest.mark.parametrize("version", NVIM_VERSIONS)
async def test_neovim_gets_ghost_text_reviewed_edits_chat_and_progress_with_the_readme_config(
    tmp_path, version
):
    path = scratch_workspace() / f"orders_nvim_{version.replace('.', '_')}.py"
    path.write_text(SOURCE)
    lines = SOURCE.split("\n")
    comment = lines.index("# ai: rewrite this with sum()")
    first, last = lines.index("def subtotal(prices: list[int]) -> int:"), lines.index("    return total")
    env = nvim_env(
        tmp_path,
        file=str(path),
        action_row=str(comment + 1),
        edit_first=str(first),
        edit_last=str(last),
    )
    out = await run_nvim(version, DRIVER, env, ROOT, timeout=420)
    assert out.get("error") is None, (out.get("error"), out["steps"])
    assert out["ready"] is True
    # Moving the cursor told the server where it is: the next completion's prompt was prefilled.
    assert out["prewarm"]["served"] >= 1, out["prewarm"]
    # Ghost text: the client declared inline completion, so no completion item is offered.
    assert out["inline_provider"] is True and out["completion_provider"] is False
    # The suggestion shown after `    return `; typing its first character kept the rest on
    # screen; <Tab> took it: its first line where the cursor was, its other lines below; one
    # `u` took back the suggestion, not the character typed before.
    ghost = out["ghost"]
    assert out["ghost_after_typing"]["text"] == ghost["text"][1:] or len(ghost["text"]) == 1
    assert out["after_ghost"] == ["    return " + ghost["text"], *ghost["below"]], (ghost, out["after_ghost"])
    assert out["ghost_undone"] == "    return " + ghost["text"][0]

    # The instruction's code action, from Neovim's code action UI: shown as a diff beside the
    # buffer (both windows in diff mode, the proposal focused, the keys said), applied by `ga`.
    titles = out["titles"]
    assert any(t.startswith("Apply AI instruction: rewrite this with sum()") for t in titles), titles
    review = out["action_review"]
    assert review["diff"] is True and review["current"] is True
    assert "ga accept" in review["winbar"] and "gr reject" in review["winbar"]
    after = out["lines"]
    assert after == review["lines"], "what was applied is what was shown"
    assert out.get("review_after_accept") is None and out["diff_after_accept"] is False
    assert "# ai: rewrite this with sum()" not in after  # the instruction is consumed
    assert after[:comment] == lines[:comment]  # everything above is untouched
    assert after[-2:] == ["def last_function() -> None:", out["ghost_undone"]]  # and below

    # <leader>ak's edit: `gr` rejected it (nothing changed); one proposed for a buffer that
    # changed meanwhile was refused with a message; accepted, only the selected lines changed.
    assert out["edit_review"]["lines"] != after
    assert out["edit_rejected"]["result"] == {"applied": False} and out["lines_after_reject"] == after
    assert out["edit_stale"]["result"] == {"applied": False}
    assert out["lines_after_stale"] == out["lines_when_stale"]
    assert any("the file changed since the edit was proposed" in n for n in out["notices"]), out["notices"]
    assert out["edit"].get("error") is None and out["edit"]["result"] == {"applied": True}, out["edit"]
    edited = out["lines_after_edit"]
    assert edited[:first] == after[:first]
    assert edited[-len(after) + last + 1 :] == after[last + 1 :]

    # :AiChat: a markdown split opened at once with the question, the answer grew in it
    # while it streamed, and a session was started.
    assert out["chat_opened"][:3] == ["## You", "", f"what does @{path.name} do?"], out["chat_opened"]
    assert out["chat_session"] and out["chat_filetype"] == "markdown"
    assert "## aicockpit" in out["chat_lines"]
    answer = "\n".join(out["chat_lines"][out["chat_lines"].index("## aicockpit") + 1 :]).strip()
    assert answer
    sizes = out["chat_sizes"]
    assert len(sizes) >= 3 and sizes == sorted(sizes), sizes  # several steps up, not one final block

    # Progress, as the LspProgress autocmd and the statusline function saw it.
    titles = {(p["kind"], p["title"]) for p in out["progress"]}
    assert ("begin", "aicockpit") in titles and ("end", "aicockpit") in titles  # the engine's loading
    statuses = out["statuses"]
    # The statusline text said the model was loading, and counted the seconds.
    assert any("aicockpit: loading " in s and s.endswith(" s)") for s in statuses), statuses
    # The edits' progress: the server does not hold an edit back for the client to create the
    # token (Helix answers that only later), so an edit the tiny model finishes first on a
    # loaded machine shows none; the three edits above cannot all be that quick.
    edits = {"aicockpit: applying the instruction", f"aicockpit: editing {path.name}"}
    shown = {title for kind, title in titles if kind == "begin"} & edits
    assert shown, titles
    if f"aicockpit: editing {path.name}" in shown:  # the statusline said which lines, in words
        # (beside other work it shows at the same time, e.g. "aicockpit: indexing workspace, ...")
        assert any(f"aicockpit: editing {path.name}: lines " in s for s in statuses), statuses
    assert ("begin", "aicockpit: answering") in titles and ("end", "aicockpit: answering") in titles
    # (beside other work, as the edit's: "aicockpit: indexing workspace, aicockpit: answering")
    assert any("aicockpit: answering" in s for s in statuses), statuses
    assert out["idle_status"] == ""

    # Explain: the whole answer in the chat split (no "full answer in chat session ..."), in
    # a new session; :AiChatSessions offers the sessions and reopens the chosen one.
    assert out["explain_found"] is True
    assert out["explain_session"] and out["explain_session"] != out["chat_session"]
    assert out["explain_lines"][:3] == ["## You", "", "Explain this code."], out["explain_lines"]
    assert "## aicockpit" in out["explain_lines"]
    assert not any("full answer in chat session" in line for line in out["explain_lines"])
    assert any(out["chat_session"] in choice for choice in out["session_choices"]), out["session_choices"]
    assert out["reopened_session"] == out["chat_session"]
    assert out["reopened_lines"][:3] == out["chat_lines"][:3]
