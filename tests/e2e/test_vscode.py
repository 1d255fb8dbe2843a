"""The VS Code extension end to end: code-server with the packaged .vsix, the real
`aicockpit serve` on the tiny model, driven by headless Chromium, with VS Code's
default editor settings (what a new user has: quick suggestions, auto-closing pairs,
auto-forwarded ports).

One VS Code session for the module (starting it and the engine is the slow part);
the tests run in file order and each leaves the editor as the next one expects.
The next_edit role alone is a scripted model (tests/e2e/next_edit_model.py) served
from this process: the tiny model's next edits would be noise. Screenshots land in
artifacts/vscode/.
"""

from __future__ import annotations

import json
import re
import time
from contextlib import contextmanager

import psutil
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.e2e import next_edit_model
from tests.e2e.vscode import seen_during, vscode_session, wait_until
from tests.fake_openai import FakeOpenAI
from tests.support import serve_command

ENGINE_READY_S = 300
APP = "app.py"


@pytest.fixture(scope="module")
def scripted():
    """The next_edit role's model: suggests nothing until a test scripts an answer."""
    with next_edit_model.in_thread(FakeOpenAI(answer=next_edit_model.UNCHANGED)) as fake:
        yield fake


@pytest.fixture(scope="module")
def vscode(scripted):
    settings = {
        "aicockpit.profiles": {next_edit_model.PROFILE: next_edit_model.profile(scripted.url)},
        "aicockpit.roles.next_edit.profile": next_edit_model.PROFILE,
    }
    with vscode_session(settings) as browser:
        yield browser
    alive = [p for p in browser.server.servers_at_stop if running(p)]
    assert not alive, f"aicockpit servers outlived code-server: {alive}"


def running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def app_lines(vscode) -> list[str]:
    """The file as saved from the editor (Ctrl+S), line by line."""
    before = (vscode.server.workspace / APP).stat().st_mtime_ns
    vscode.chord(Keys.CONTROL, "s")
    wait_until(
        "the file to be saved", lambda: (vscode.server.workspace / APP).stat().st_mtime_ns != before, 30
    )
    return (vscode.server.workspace / APP).read_text().split("\n")


def ghost_text(vscode) -> str:
    return "".join(e.text for e in vscode.find(".ghost-text-decoration, .ghost-text"))


def test_the_installed_extension_is_one_bundle(vscode):
    """code-server installed the bundled .vsix: one script plus the chat view's assets."""
    (folder,) = vscode.server.extensions.glob("aicockpit.aicockpit-*")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert not [f for f in files if "node_modules" in f], files
    assert len(files) < 20, files
    assert json.loads((folder / "package.json").read_text())["main"] == "./dist/extension.js"
    assert [f for f in files if f.endswith(".js")] == ["dist/extension.js", "media/chat.js"], files


def test_status_bar_shows_the_engine_loading_once_then_ready(vscode):
    loading: list[list[str]] = []  # the status bar items that speak of loading, at each look

    def ready():
        items = vscode.status_items()
        if about_loading := [i for i in items if "loading" in i.lower()]:
            loading.append(about_loading)
        text = vscode.status_text()
        return ("ready" in text or "failed" in text or "error" in text) and text

    status = wait_until("the status bar to say ready", ready, timeout=ENGINE_READY_S)
    vscode.screenshot("status-ready")
    assert "aicockpit ready" in status, status
    assert "cache" in status
    # One indicator while the model loads: the extension's item, counting the server's seconds
    # (the server's own progress would be a second item with another clock).
    assert loading, "the loading state was never shown"
    assert all(len(seen) == 1 for seen in loading), loading
    assert all(seen[0].strip().startswith("aicockpit: loading model") for seen in loading), loading


def test_typing_shows_ghost_text_only_and_tab_accepts_it(vscode):
    vscode.open_file(APP)
    vscode.chord(Keys.CONTROL, Keys.END)
    typed = "return "
    # Default settings: "(" gets its ")" and typing ")" steps over it.
    vscode.keys(Keys.ENTER, Keys.ENTER, "def total_price(items):", Keys.ENTER, typed)
    suggestion = ""
    for attempt in range(6):  # the tiny model may suggest only whitespace: ask again
        try:
            suggestion = wait_until(
                "ghost text", lambda: ghost_text(vscode).strip() and ghost_text(vscode), 45
            )
            break
        except TimeoutError:
            # A space and its removal ask for a new suggestion without opening the word list.
            vscode.keys(Keys.SPACE if attempt % 2 == 0 else Keys.BACKSPACE)
            typed = typed + " " if attempt % 2 == 0 else typed[:-1]
    assert suggestion.strip(), "no ghost text appeared"
    vscode.screenshot("ghost-text")
    # One surface: the suggestion is not also an item of the suggestion list, not even
    # when the list is asked for (Ctrl+Space).
    first_line = suggestion.replace("\u00a0", " ").strip().split("\n")[0][:20]
    assert not [row for row in vscode.suggest_rows() if first_line in row], vscode.suggest_rows()
    vscode.chord(Keys.CONTROL, Keys.SPACE)
    wait_until("the suggestion list (or its 'No suggestions.')", lambda: word_list_shown(vscode), 30)
    listed = vscode.suggest_rows()
    vscode.screenshot("ctrl-space-list")
    assert not [row for row in listed if first_line in row or "aicockpit" in row], listed
    vscode.keys(Keys.ESCAPE)
    # Bring the ghost text back (the same prefix: the server answers from its cache).
    vscode.keys(Keys.BACKSPACE, typed[-1])
    suggestion = wait_until("ghost text again", lambda: ghost_text(vscode).strip() and ghost_text(vscode), 60)
    inline = "".join(e.text for e in vscode.find(".ghost-text-decoration")).replace("\u00a0", " ")
    assert vscode.suggest_rows() == []
    vscode.keys(Keys.TAB)
    # Accepted: the line holds the text. (Not "the ghost text changed": the suggestion
    # prefetched after it may be the same text again, the tiny model repeats itself.)
    wait_until("the suggestion to be accepted", lambda: (typed + inline).strip() in typed_lines(vscode), 15)
    lines = app_lines(vscode)
    vscode.screenshot("ghost-text-accepted")
    start = lines.index("def total_price(items):") + 1
    assert lines[start].lstrip().startswith(typed.lstrip() + inline), (lines[start:], typed, suggestion)
    assert "\n".join(lines[start:]).strip() != typed.strip(), "Tab inserted nothing"
    # The status bar now reports the completion's latency, and the server heard of the
    # acceptance (the item's command): its menu counts accepted suggestions.
    wait_until("a latency in the status bar", lambda: " ms" in vscode.status_text(), 30)
    wait_until("the acceptance to reach the server", lambda: accepted_in_menu(vscode) >= 1, 60, every_s=1)
    vscode.screenshot("status-menu")
    vscode.keys(Keys.ESCAPE)


# The editor's lines as typed: the text of each line on screen without its ghost text.
TYPED_LINES_JS = """
return Array.from(document.querySelectorAll('.monaco-editor .view-line'), line => {
  const copy = line.cloneNode(true);
  copy.querySelectorAll('.ghost-text-decoration, .ghost-text-decoration-preview').forEach(g => g.remove());
  return copy.textContent.replace(/\u00a0/g, ' ');
}).join('\\n');
"""


def typed_lines(vscode) -> str:
    return vscode.driver.execute_script(TYPED_LINES_JS)


def word_list_shown(vscode) -> bool:
    """The suggestion list asked for has its items, or says it has none (not "Loading...")."""
    message = vscode.find(".editor-widget.suggest-widget.visible .message")
    return bool(vscode.suggest_rows()) or any("No suggestions" in m.text for m in message)


def accepted_in_menu(vscode) -> int:
    """Opens the status bar item's menu and reads the accepted-suggestions figure."""
    vscode.keys(Keys.ESCAPE)
    vscode.find("[id$='aicockpit.status'] a, [id$='aicockpit.status']")[0].click()
    rows = ".quick-input-list .monaco-list-row"
    line = wait_until(
        "the stats in the menu", lambda: [r.text for r in vscode.find(rows) if "accepted" in r.text], 15
    )
    return int(line[0].rsplit(":", 1)[1].strip())


GEOMETRY = "geometry.py"
GEOMETRY_SOURCE = "def area(width, height):\n    return width * height\n\n\nprint(area(2, 3))\n"

# The inline diff as drawn: text with a line-through style, and the text of `after`
# decorations (pseudo-elements), in the active editor's lines.
DIFF_DECORATIONS = """
const lines = document.querySelectorAll(
  '.editor-group-container.active .monaco-editor .view-lines .view-line');
const struck = [], inserted = [];
for (const line of lines) {
  for (const span of line.querySelectorAll('span')) {
    const style = getComputedStyle(span);
    if (span.children.length === 0 && style.textDecorationLine.includes('line-through')) {
      struck.push(span.textContent);
    }
    const after = getComputedStyle(span, '::after').content;
    if (after && after !== 'none' && after !== 'normal') inserted.push(after);
  }
}
return {struck: struck, inserted: inserted};
"""


def diff_decorations(vscode) -> dict[str, list[str]]:
    shown = vscode.driver.execute_script(DIFF_DECORATIONS)
    # Pseudo-element content comes quoted, with VS Code's non-breaking spaces.
    clean = [re.sub(r'^"|"$', "", t).replace("\u00a0", " ") for t in shown["inserted"]]
    return {"struck": [t.replace("\u00a0", " ") for t in shown["struck"]], "inserted": clean}


def saved_text(vscode, name: str) -> str:
    path = vscode.server.workspace / name
    before = path.stat().st_mtime_ns
    vscode.chord(Keys.CONTROL, "s")
    wait_until(f"{name} to be saved", lambda: path.stat().st_mtime_ns != before, 30)
    return path.read_text()


def test_a_next_edit_shows_as_an_inline_diff_and_tab_takes_it(vscode, scripted):
    # Written first: VS Code's file watcher has the time of the next wait to see it.
    (vscode.server.workspace / GEOMETRY).write_text(GEOMETRY_SOURCE)
    # Only the next edit: no ghost text at the cursor, which Tab would take first.
    workspace_settings(vscode, {"aicockpit.completion.enabled": False})
    # Once VS Code has read the setting, the status item says so (before, ghost text could
    # still come, and Tab take it).
    wait_until(
        "the server to be ready, ghost text off",
        lambda: "aicockpit ready (ghost text off)" in vscode.status_text(),
        ENGINE_READY_S,
    )
    scripted.answer = next_edit_model.following_renames({"area": ["width", "height"]})
    vscode.open_file(GEOMETRY)
    # The user renames the parameter: select `width` on the first line, type `size`.
    retype_word(vscode, len("def area("), "size")
    # Once the edit settles, the next use shows as an inline diff: the old name struck
    # through, the new one beside it.
    shown = wait_until(
        "the next edit's inline diff", lambda: (d := diff_decorations(vscode))["struck"] and d, 60
    )
    vscode.screenshot("next-edit")
    assert shown == {"struck": ["width"], "inserted": ["size"]}, shown
    if vscode.suggest_rows():  # a word list, opened by the typing, would have Tab
        vscode.keys(Keys.ESCAPE)
    vscode.keys(Keys.TAB)
    wait_until("the inline diff to go", lambda: not diff_decorations(vscode)["struck"], 15)
    assert saved_text(vscode, GEOMETRY) == GEOMETRY_SOURCE.replace("width", "size")
    # The server heard it was taken (the status menu's figures).
    wait_until(
        "the acceptance in the figures",
        lambda: "1 accepted" in next_edits_in_menu(vscode),
        30,
        every_s=1,
    )
    vscode.keys(Keys.ESCAPE)

    # Escape dismisses the next one; the file stays as the user left it.
    retype_word(vscode, len("def area(size, "), "h")
    # `height` to `h`: the shared `h` stays, the rest is struck through.
    wait_until("the second inline diff", lambda: diff_decorations(vscode)["struck"] == ["eight"], 60)
    if vscode.suggest_rows():
        vscode.keys(Keys.ESCAPE)
    vscode.keys(Keys.ESCAPE)
    wait_until("the inline diff to go", lambda: not diff_decorations(vscode)["struck"], 15)
    expected = "def area(size, h):\n    return size * height\n\n\nprint(area(2, 3))\n"
    assert saved_text(vscode, GEOMETRY) == expected
    wait_until(
        "the dismissal in the figures", lambda: "1 dismissed" in next_edits_in_menu(vscode), 30, every_s=1
    )
    vscode.keys(Keys.ESCAPE)
    scripted.answer = next_edit_model.UNCHANGED
    (vscode.server.workspace / ".vscode" / "settings.json").unlink()
    vscode.chord(Keys.CONTROL, "w")
    vscode.open_file(APP)


def retype_word(vscode, column: int, text: str) -> None:
    """Select the word at ``column`` of the first line and type ``text`` over it."""
    vscode.chord(Keys.CONTROL, "1")  # the editor has the keyboard, not the status bar
    vscode.chord(Keys.CONTROL, Keys.HOME)
    vscode.keys(*[Keys.RIGHT] * column)
    select = ActionChains(vscode.driver).key_down(Keys.CONTROL).key_down(Keys.SHIFT).send_keys(Keys.RIGHT)
    select.key_up(Keys.SHIFT).key_up(Keys.CONTROL).perform()
    vscode.keys(text)


def next_edits_in_menu(vscode) -> str:
    """Opens the status bar item's menu and reads the next-edit figures."""
    vscode.keys(Keys.ESCAPE)
    vscode.find("[id$='aicockpit.status'] a, [id$='aicockpit.status']")[0].click()
    rows = ".quick-input-list .monaco-list-row"
    found = wait_until("the stats in the menu", lambda: [r.text for r in vscode.find(rows) if r.text], 15)
    return " ".join(row for row in found if row.startswith("Next edits"))


def go_to_line(vscode, number: int) -> None:
    """Ctrl+G: done once the box has closed and the status bar shows the cursor on the line."""
    vscode.chord(Keys.CONTROL, "g")
    vscode.wait_css(".quick-input-widget .quick-input-box input").send_keys(str(number), Keys.ENTER)

    def there() -> bool:
        box_open = vscode.find(".quick-input-widget .quick-input-box input:focus")
        return not box_open and f"Ln {number}," in " ".join(vscode.status_items())

    wait_until(f"the cursor on line {number}", there, 10)


def select_line(vscode, number: int) -> None:
    go_to_line(vscode, number)
    vscode.keys(Keys.HOME)
    ActionChains(vscode.driver).key_down(Keys.SHIFT).send_keys(Keys.END).key_up(Keys.SHIFT).perform()


def test_ctrl_k_edits_the_selection_after_the_diff_is_accepted(vscode):
    original = app_lines(vscode)
    line = original.index("    cart = Cart(customer)") + 1
    select_line(vscode, line)
    vscode.chord(Keys.CONTROL, "k")
    box = vscode.wait_css(".quick-input-widget .quick-input-box input", timeout=30)
    assert any("edit the selection" in t.text for t in vscode.find(".quick-input-title"))
    box.send_keys("rename cart to basket", Keys.ENTER)
    wait_until("the diff preview", lambda: vscode.find(".monaco-diff-editor"), 180)
    accept = wait_until("the Accept button", lambda: vscode.notification_button("Accept"), 60)
    vscode.screenshot("ctrl-k-diff")
    # Nothing changes before the diff is accepted.
    assert (vscode.server.workspace / APP).read_text().split("\n") == original
    accept.click()
    wait_until("the diff to close", lambda: not vscode.find(".monaco-diff-editor"), 30)
    edited = app_lines(vscode)
    vscode.screenshot("ctrl-k-accepted")
    assert edited[line - 1] != original[line - 1]
    assert edited[: line - 1] == original[: line - 1]
    # Accepting was one undo step.
    vscode.chord(Keys.CONTROL, "z")
    assert app_lines(vscode) == original


def workspace_settings(vscode, values: dict) -> None:
    """Workspace settings (.vscode/settings.json): VS Code applies them on their own."""
    settings = vscode.server.workspace / ".vscode" / "settings.json"
    settings.parent.mkdir(exist_ok=True)
    settings.write_text(json.dumps(values))


def test_an_edit_shows_cancellable_progress_in_words(vscode):
    # Long enough to be cancelled while it runs (the tiny model may still stop early:
    # then the diff is rejected and the edit asked again).
    # Ghost text off too, for the status item to show when VS Code has read the file: the
    # same change event sends the server the edit setting (messages it handles in order).
    wait_until("no workspace settings left", lambda: "(ghost text off)" not in vscode.status_text(), 30)
    workspace_settings(vscode, {"aicockpit.edit.max_tokens": 2000, "aicockpit.completion.enabled": False})
    wait_until("the settings read", lambda: "aicockpit ready (ghost text off)" in vscode.status_text(), 60)
    original = app_lines(vscode)
    line = original.index("def main() -> None:") + 1
    seen: list[str] = []

    def cancel_the_edit() -> str | None:
        if vscode.find(".monaco-diff-editor"):
            return "finished"  # before the notification could be seen
        toasts = [t for t in vscode.toasts() if "aicockpit: editing app.py" in t]
        button = vscode.notification_button("Cancel") if toasts else None
        if button is None:
            return None
        seen.append(toasts[0])
        if not seen[1:]:
            vscode.screenshot("edit-progress")
        button.click()
        return "clicked"

    cancelled = False
    for _ in range(12):  # a loaded machine may let several finish first
        go_to_line(vscode, line)
        vscode.keys(Keys.HOME)
        down = ActionChains(vscode.driver).key_down(Keys.SHIFT).send_keys(*[Keys.DOWN] * 7)
        down.key_up(Keys.SHIFT).perform()  # def main() to its last line
        vscode.chord(Keys.CONTROL, "k")
        box = vscode.wait_css(".quick-input-widget .quick-input-box input", timeout=30)
        box.send_keys("rewrite this function with more comments", Keys.ENTER)
        outcome = wait_until("the edit's notification (or its diff)", cancel_the_edit, 60, every_s=0.05)
        if outcome == "clicked":
            # A window, not a wait for an event: an edit that had finished shows its diff in
            # it. Cancel closes VS Code's notification at once, and nothing on screen says that
            # a cancelled edit ended with nothing.
            time.sleep(3)
        if not vscode.find(".monaco-diff-editor"):
            cancelled = True
            break
        wait_until("the Reject button", lambda: vscode.notification_button("Reject"), 30).click()
        wait_until("the diff to close", lambda: not vscode.find(".monaco-diff-editor"), 30)
    assert cancelled, "every edit finished before Cancel was clicked"
    # The notification says what runs, in words, and where.
    assert "aicockpit: editing app.py: lines 7-13: " in seen[0], seen
    assert "chunks" not in " ".join(seen)
    wait_until("the notification to go", lambda: not [t for t in vscode.toasts() if "editing" in t], 30)
    assert app_lines(vscode) == original
    (vscode.server.workspace / ".vscode" / "settings.json").unlink()
    wait_until("the settings gone", lambda: "(ghost text off)" not in vscode.status_text(), 30)


def test_an_ai_code_action_is_reviewed_as_a_diff_like_ctrl_k(vscode):
    original = app_lines(vscode)
    line = original.index("def main() -> None:") + 1
    go_to_line(vscode, line)
    vscode.run_command("Refactor...")
    rows = ".action-widget .monaco-list-row"
    wait_until(
        "Add docstring with AI in the refactor menu",
        lambda: [r for r in vscode.find(rows) if "Add docstring with AI" in r.text],
        60,
    )
    vscode.screenshot("refactor-menu")
    for _ in range(5):  # the menu has the keyboard: move to the item, Enter applies it
        focused = vscode.find(".action-widget .monaco-list-row.focused")
        if focused and "Add docstring with AI" in focused[0].text:
            break
        vscode.keys(Keys.DOWN)
    vscode.keys(Keys.ENTER)
    wait_until("the diff preview", lambda: vscode.find(".monaco-diff-editor"), 180)
    accept = wait_until("the Accept button", lambda: vscode.notification_button("Accept"), 60)
    vscode.screenshot("docstring-diff")
    # Nothing was written before the review.
    assert (vscode.server.workspace / APP).read_text().split("\n") == original
    accept.click()
    wait_until("the diff to close", lambda: not vscode.find(".monaco-diff-editor"), 30)
    edited = app_lines(vscode)
    assert len(edited) > len(original) and '"""' in "\n".join(edited[line:]), edited
    vscode.chord(Keys.CONTROL, "z")
    assert app_lines(vscode) == original


@contextmanager
def chat_view(vscode):
    """Inside the chat webview's page (two iframes deep) for the duration of the block."""
    driver = vscode.driver
    frame = wait_until("the chat webview", lambda: vscode.find("iframe.webview.ready"), 60)[0]
    driver.switch_to.frame(frame)
    page = wait_until("the chat page", lambda: driver.find_elements(By.ID, "active-frame"), 30)[0]
    driver.switch_to.frame(page)
    try:
        yield driver
    finally:
        driver.switch_to.default_content()


def session_titles(driver) -> list[str]:
    return [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#session-select option")][1:]


def chat_click(vscode, css: str) -> None:
    with chat_view(vscode) as driver:
        wait_until(css, lambda: driver.find_elements(By.CSS_SELECTOR, css), 30)[-1].click()


def test_chat_streams_an_answer_into_the_chat_view(vscode):
    vscode.run_command("aicockpit: Open Chat")
    with chat_view(vscode) as driver:
        box = wait_until("the chat input", lambda: driver.find_elements(By.ID, "input"), 30)[0]
        box.click()
        box.send_keys("What does @shop/che")
        items = wait_until(
            "@ completions",
            lambda: [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#mentions li")],
            30,
        )
        assert any("shop/checkout.py" in item for item in items), items
        box.send_keys(Keys.TAB)
        assert box.get_attribute("value") == "What does @shop/checkout.py "
        box.send_keys("do?", Keys.ENTER)

        # Watch the answer grow while the view is busy: a stream, not one final block.
        states: list[tuple[str, int]] = []

        def answered() -> bool:
            busy = driver.find_element(By.TAG_NAME, "body").get_attribute("data-busy")
            bodies = driver.find_elements(By.CSS_SELECTOR, ".message.assistant .message-body")
            state = (busy, len(bodies[-1].text) if bodies else 0)
            if not states or states[-1] != state:
                states.append(state)
            return state[0] == "false" and state[1] > 0

        wait_until("the answer, looked at as it grows", answered, 180, every_s=0.03)
        final = states[-1][1]
        assert final > 0, states
        assert any(busy == "true" and 0 < length < final for busy, length in states), states
        user = driver.find_elements(By.CSS_SELECTOR, ".message.user .message-body")
        assert user and "@shop/checkout.py" in user[-1].text
        sessions = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#session-select option")]
        assert len(sessions) >= 2, sessions  # "New session" and the one just created
        assert driver.find_elements(By.CSS_SELECTOR, ".message.user .message-header")[-1].text == "You"
    # Its own container in the activity bar: the chat fills the side bar, not the bottom panel.
    (sidebar,) = [p for p in vscode.find(".part.sidebar") if p.is_displayed()]
    assert "aicockpit" in sidebar.find_element(By.CSS_SELECTOR, ".title-label").text.lower()
    frame = vscode.find("iframe.webview.ready")[0].rect
    box = sidebar.rect
    assert box["x"] <= frame["x"] < box["x"] + box["width"], (frame, box)
    assert frame["height"] > 0.6 * box["height"], (frame, box)
    vscode.screenshot("chat")


def test_long_words_in_the_chat_wrap(vscode):
    with chat_view(vscode) as driver:
        box = driver.find_element(By.ID, "input")
        box.click()
        box.send_keys("what is " + "x" * 400 + "?", Keys.ENTER)
        wait_until(
            "the message in the view",
            lambda: any("x" * 50 in m.text for m in driver.find_elements(By.CSS_SELECTOR, ".message.user")),
            30,
        )
        widths = driver.execute_script(
            "const m = document.getElementById('messages'); return [m.scrollWidth, m.clientWidth];"
        )
        assert widths[0] <= widths[1], widths
        wait_until(
            "the answer",
            lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-busy") == "false",
            180,
        )


def test_chat_sessions_fork_rename_and_delete(vscode):
    with chat_view(vscode) as driver:
        before = session_titles(driver)
        messages = len(driver.find_elements(By.CSS_SELECTOR, ".message"))
    chat_click(vscode, ".message.assistant .fork")
    with chat_view(vscode) as driver:
        wait_until("the forked session", lambda: len(session_titles(driver)) == len(before) + 1, 30)
        assert len(driver.find_elements(By.CSS_SELECTOR, ".message")) == messages

    chat_click(vscode, "#rename-session")
    box = vscode.wait_css(".quick-input-widget .quick-input-box input", timeout=30)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("forked from the e2e test", Keys.ENTER)
    with chat_view(vscode) as driver:
        wait_until("the new title", lambda: "forked from the e2e test" in session_titles(driver), 30)
    vscode.screenshot("chat-sessions")

    chat_click(vscode, "#delete-session")
    buttons = ".monaco-dialog-box .monaco-button"
    confirm = wait_until(
        "the confirmation", lambda: [b for b in vscode.find(buttons) if b.text == "Delete"], 30
    )
    confirm[0].click()
    with chat_view(vscode) as driver:
        wait_until("the session to be gone", lambda: session_titles(driver) == before, 30)
        assert driver.find_elements(By.CSS_SELECTOR, ".message") == []


def pick(vscode, label: str) -> None:
    """Choose ``label`` in the open quick pick."""
    box = vscode.wait_css(".quick-input-widget .quick-input-box input", timeout=30)
    rows = ".quick-input-list .monaco-list-row"
    wait_until(f"{label} in the list", lambda: any(label in r.text for r in vscode.find(rows)), 30)
    box.send_keys(label, Keys.ENTER)


def panel_shown(vscode) -> bool:
    return any(p.is_displayed() for p in vscode.find(".part.panel"))


def test_the_engines_ports_are_not_forwarded(vscode):
    # The engine has been up for minutes: VS Code has long seen the ports vLLM's gloo
    # process groups listen on, and would list them as auto-forwarded.
    vscode.run_command("Ports: Focus on Ports View")
    wait_until("the PORTS view", lambda: panel_shown(vscode), 30)

    def ports_listed() -> str:
        text = " ".join(p.text for p in vscode.find(".part.panel") if p.is_displayed())
        # Its table ends with an "Add Port" row; without ports it says so instead.
        return text if "Add Port" in text or "No forwarded ports" in text else ""

    panel = wait_until("the ports listed", ports_listed, 30)
    vscode.screenshot("ports")
    # VS Code watches every process of the machine (other jobs' ports may be listed): none
    # of the engine's processes may be.
    family = psutil.Process(vscode.server.process.pid).children(recursive=True)
    engines = [p for p in family if running(p) and "VLLM::" in " ".join(p.cmdline())]
    assert engines, "no vLLM engine process to look for"
    assert "VLLM::" not in panel, panel
    vscode.chord(Keys.CONTROL, "j")  # toggles the panel
    wait_until("the panel to close", lambda: not panel_shown(vscode), 10)


def test_switch_profile_reaches_the_server(vscode):
    vscode.run_command("aicockpit: Switch Profile")
    pick(vscode, "chat")
    pick(vscode, "default")
    wait_until(
        "the switch to be confirmed",
        lambda: any("chat uses default" in e.text for e in vscode.find(".statusbar-item")),
        60,
    )


def test_a_crashed_server_is_restarted(vscode):
    (first,) = [p for p in vscode.server.server_processes() if "serve" in p.cmdline()]
    for proc in [*first.children(recursive=True), first]:
        proc.kill()
    wait_until(
        "the status bar to report the restart", lambda: "restarting" in vscode.status_text(), 60, every_s=0.1
    )
    vscode.screenshot("server-restarting")
    wait_until(
        "the engine to be ready again", lambda: "aicockpit ready" in vscode.status_text(), ENGINE_READY_S
    )
    (second,) = [p for p in vscode.server.server_processes() if "serve" in p.cmdline()]
    assert second.pid != first.pid


def clear_notifications(vscode) -> None:
    vscode.run_command("Notifications: Clear All Notifications")
    wait_until("no notifications", lambda: not vscode.toasts(), 10)


def open_settings_shows(vscode, button: str, *words: str) -> None:
    """The notification's button opens the Settings editor at the setting."""
    wait_until(f"the {button} button", lambda: vscode.notification_button(button), 10).click()

    def shown() -> str:
        return " ".join(e.text for e in vscode.find(".settings-editor .setting-item"))

    wait_until(f"the setting {words} in the Settings editor", lambda: all(w in shown() for w in words), 30)
    vscode.screenshot("settings-" + "-".join(w.lower().replace(" ", "-") for w in words))
    vscode.chord(Keys.CONTROL, "w")


def test_a_wrong_server_command_is_one_notification_naming_it_and_the_setting(vscode):
    clear_notifications(vscode)
    started = time.monotonic()
    workspace_settings(vscode, {"aicockpit.client.serverCommand": ["/opt/nowhere/bin/aicockpit", "serve"]})
    toasts = wait_until(
        "the not-found notification",
        lambda: [t for t in vscode.toasts() if "aicockpit" in t],
        30,
        every_s=0.1,
    )
    took = time.monotonic() - started
    vscode.screenshot("wrong-command")
    assert len(toasts) == 1, toasts
    assert toasts[0].startswith(
        "aicockpit cannot start: the server command `/opt/nowhere/bin/aicockpit` (from "
        "aicockpit.client.serverCommand) was not found or is not executable. "
        "Set aicockpit.client.serverCommand to the aicockpit of your environment"
    ), toasts
    # The buttons render a moment after the message (under load, after the first look).
    wait_until("the Open Setting button", lambda: vscode.notification_button("Open Setting"), 10)
    assert took < 10, f"the notification took {took:.1f} s"
    # No restarts of a command that does not exist: the state stays failed (a crashed server's
    # first two restarts would come 1 and 2 s apart: client-vscode/src/failure.ts backoffMs).
    seen = set(seen_during(4, vscode.status_text))
    assert seen and all("server failed" in text for text in seen), seen
    assert len([t for t in vscode.toasts() if "aicockpit" in t]) == 1, vscode.toasts()
    open_settings_shows(vscode, "Open Setting", "Server Command")


def test_a_missing_model_is_one_notification_naming_the_model_setting(vscode):
    clear_notifications(vscode)
    assert not panel_shown(vscode)
    command = serve_command()
    at = command.index("--model")
    del command[at : at + 2]  # the model comes from the settings
    workspace_settings(
        vscode, {"aicockpit.client.serverCommand": command, "aicockpit.engine.model": "/opt/nowhere/model"}
    )
    toasts = wait_until(
        "the missing-model notification",
        lambda: [t for t in vscode.toasts() if "model" in t],
        120,
        every_s=0.2,
    )
    vscode.screenshot("missing-model")
    assert toasts[0].startswith(
        "aicockpit cannot load the model: model folder /opt/nowhere/model does not exist; "
        "change aicockpit.engine.model."
    ), toasts
    assert "Traceback" not in toasts[0]
    counts = seen_during(3, lambda: len([t for t in vscode.toasts() if "aicockpit" in t]))
    assert counts and max(counts) == 1 == counts[-1], (counts, vscode.toasts())
    assert "model not loaded" in vscode.status_text()
    # The log stays where it is: no panel opened on its own.
    assert not panel_shown(vscode), "the panel popped up"
    open_settings_shows(vscode, "Open Setting", "Engine", "Model")


def test_a_server_that_cannot_start_says_why(vscode):
    # The system Python, without aicockpit (-I ignores the PYTHONPATH the tests run with),
    # as a workspace setting; changing the command restarts the server.
    settings = vscode.server.workspace / ".vscode" / "settings.json"
    settings.parent.mkdir(exist_ok=True)
    command = ["/usr/bin/python3", "-I", "-m", "aicockpit", "serve"]
    clear_notifications(vscode)
    settings.write_text(json.dumps({"aicockpit.client.serverCommand": command}))
    toasts = wait_until(
        "the failure notification",
        lambda: [t.text for t in vscode.find(".notification-toast") if "not installed" in t.text],
        90,
    )
    vscode.screenshot("server-failed")
    assert "the aicockpit package is not installed for `/usr/bin/python3 -I -m aicockpit serve`" in toasts[0]
    assert "server failed" in vscode.status_text()
    wait_until("the Open Logs action", lambda: vscode.notification_button("Open Logs"), 10).click()
    wait_until(
        "the reason in the aicockpit log",
        lambda: any("package is not installed" in e.text for e in vscode.find(".panel .view-line")),
        30,
    )
    vscode.screenshot("server-failed-logs")
