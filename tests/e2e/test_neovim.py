"""A real headless Neovim (0.11) using aicockpit: completion, the instruction code action,
an edit, a streamed chat, Explain and the sessions picker, and the progress shown meanwhile."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.e2e.helpers import nvim
from tests.support import ROOT, scratch_workspace, serve_command, server_env

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


def test_neovim_gets_completions_edits_chat_and_progress_with_the_readme_config(tmp_path):
    path = scratch_workspace() / "orders_nvim.py"
    path.write_text(SOURCE)
    lines = SOURCE.split("\n")
    comment = lines.index("# ai: rewrite this with sum()")
    result_file = tmp_path / "out.json"
    env = {
        **server_env(),
        "AICOCKPIT_OUT": str(result_file),
        "AICOCKPIT_FILE": str(path),
        "AICOCKPIT_ROOT": str(scratch_workspace()),
        "AICOCKPIT_CMD": json.dumps(serve_command()),
        "AICOCKPIT_ROW": str(lines.index("    total = 0")),
        "AICOCKPIT_COL": str(len("    total = ")),
        "AICOCKPIT_ACTION_ROW": str(comment + 1),
        "AICOCKPIT_PLUGIN": str(ROOT / "editors" / "neovim" / "aicockpit.lua"),
        "AICOCKPIT_EDIT_FIRST": str(lines.index("def subtotal(prices: list[int]) -> int:")),
        "AICOCKPIT_EDIT_LAST": str(lines.index("    return total")),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    subprocess.run(
        [nvim(), "--headless", "--clean", "-u", "NONE", "-c", f"luafile {DRIVER}"],
        env=env,
        cwd=ROOT,
        timeout=420,
        capture_output=True,
        check=False,
    )
    out = json.loads(result_file.read_text())
    assert "error" not in out, out.get("error")
    assert out["ready"] is True
    # Neovim 0.11 declares no inline completion: it is offered the completion item.
    assert out["completion_provider"] is True and out["inline_provider"] is True
    assert out["omnifunc"] == "v:lua.vim.lsp.omnifunc"  # <C-x><C-o> asks the servers
    items = out["completion"]["items"]
    assert len(items) == 1 and items[0]["textEdit"]["newText"]
    assert out["inline"]["items"][0]["insertText"].strip()
    assert any(t.startswith("Apply AI instruction: rewrite this with sum()") for t in out["titles"]), out[
        "titles"
    ]
    assert out["had_edit"] is True
    after = out["lines"]
    assert "# ai: rewrite this with sum()" not in after  # the instruction is consumed
    assert after[:comment] == lines[:comment]  # everything above is untouched
    assert after[-2:] == ["def last_function() -> None:", "    return None"]  # and below

    # <leader>ak: the edit came back applied, and only the selected function changed.
    assert out["edit"].get("error") is None and out["edit"]["result"]["applied"] is True, out["edit"]
    edited = out["lines_after_edit"]
    first = lines.index("def subtotal(prices: list[int]) -> int:")
    assert edited[:first] == after[:first]
    assert (
        edited[-len(after) + lines.index("    return total") + 1 :]
        == after[lines.index("    return total") + 1 :]
    )
    # :AiChat: a markdown split opened at once with the question, the answer grew in it
    # while it streamed, and a session was started.
    assert out["chat_opened"][:3] == ["## You", "", "what does @orders_nvim.py do?"], out["chat_opened"]
    assert out["chat_session"] and out["chat_filetype"] == "markdown"
    assert "## aicockpit" in out["chat_lines"]
    answer = "\n".join(out["chat_lines"][out["chat_lines"].index("## aicockpit") + 1 :]).strip()
    assert answer
    sizes = out["chat_sizes"]
    assert len(sizes) >= 3 and sizes == sorted(sizes), sizes  # several steps up, not one final block

    # Progress, as the LspProgress autocmd and the statusline function saw it.
    titles = {(p["kind"], p["title"]) for p in out["progress"]}
    assert ("begin", "aicockpit") in titles and ("end", "aicockpit") in titles  # the engine's loading
    loading = out["status"]["loading"]
    # The statusline text said the model was loading, and counted the seconds.
    assert any("aicockpit: loading " in s and s.endswith(" s)") for s in loading), loading
    assert ("begin", "aicockpit: editing orders_nvim.py") in titles, titles
    assert any(s.startswith("aicockpit: editing orders_nvim.py: lines ") for s in out["status"]["edit"])
    assert ("begin", "aicockpit: answering") in titles and ("end", "aicockpit: answering") in titles
    assert "aicockpit: answering" in out["status"]["chat"]
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

    # <C-x><C-o>, typed in insert mode after `    return `, brought the model's suggestion.
    omni = out["omni"]
    assert len(omni["words"]) == 1 and omni["words"][0].strip(), omni
    assert omni["line"] == ("    return " + omni["words"][0]).split("\n")[0], omni  # the only match, inserted
