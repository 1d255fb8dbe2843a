"""The VS Code extension end to end: code-server with the packaged .vsix, the real
`aicockpit serve` on the tiny model, driven by headless Chromium.

One VS Code session for the module (starting it and the engine is the slow part);
the tests run in file order and each leaves the editor as the next one expects.
Screenshots land in artifacts/vscode/.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

import psutil
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.e2e.vscode import Browser, CodeServer, wait_until

ENGINE_READY_S = 300
APP = "app.py"


@pytest.fixture(scope="module")
def vscode():
    server = CodeServer()
    browser = None
    servers = []
    try:
        server.start()
        browser = Browser(server.url)
        browser.wait_css(".monaco-workbench", timeout=180)
        browser.server = server
        yield browser
    finally:
        if browser is not None:
            browser.screenshot("last")
            browser.quit()
        servers = server.server_processes()
        server.stop()
    alive = [p for p in servers if running(p)]
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


def test_status_bar_shows_the_engine_ready(vscode):
    status = wait_until(
        "the status bar to say ready",
        lambda: (
            (text := vscode.status_text())
            and ("ready" in text or "failed" in text or "error" in text)
            and text
        ),
        timeout=ENGINE_READY_S,
    )
    vscode.screenshot("status-ready")
    assert "aicockpit ready" in status, status
    assert "cache" in status


def test_typing_shows_ghost_text_and_tab_accepts_it(vscode):
    vscode.open_file(APP)
    vscode.chord(Keys.CONTROL, Keys.END)
    typed = "return "
    vscode.keys(Keys.ENTER, Keys.ENTER, "def total_price(items):", Keys.ENTER, typed)
    suggestion = ""
    for attempt in range(4):  # the tiny model may suggest only whitespace: type on and retry
        try:
            suggestion = wait_until(
                "ghost text", lambda: ghost_text(vscode).strip() and ghost_text(vscode), 45
            )
            break
        except TimeoutError:
            extra = "x" if attempt % 2 == 0 else " "
            typed += extra
            vscode.keys(extra)  # typing asks for a new suggestion
    assert suggestion.strip(), "no ghost text appeared"
    inline = "".join(e.text for e in vscode.find(".ghost-text-decoration")).replace("\u00a0", " ")
    vscode.screenshot("ghost-text")
    vscode.keys(Keys.TAB)
    wait_until("the suggestion to be accepted", lambda: ghost_text(vscode) != suggestion, 15)
    lines = app_lines(vscode)
    vscode.screenshot("ghost-text-accepted")
    start = lines.index("def total_price(items):") + 1
    assert lines[start].lstrip().startswith(typed + inline), (lines[start:], typed, suggestion)
    assert "\n".join(lines[start:]).strip() != typed.strip(), "Tab inserted nothing"
    # The status bar now reports the completion's latency, and the server heard of the
    # acceptance (the item's command): its menu counts accepted suggestions.
    wait_until("a latency in the status bar", lambda: " ms" in vscode.status_text(), 30)
    wait_until("the acceptance to reach the server", lambda: accepted_in_menu(vscode) >= 1, 60, every=1)
    vscode.screenshot("status-menu")
    vscode.keys(Keys.ESCAPE)


def accepted_in_menu(vscode) -> int:
    """Opens the status bar item's menu and reads the accepted-suggestions figure."""
    vscode.keys(Keys.ESCAPE)
    vscode.find("[id$='aicockpit.status'] a, [id$='aicockpit.status']")[0].click()
    rows = ".quick-input-list .monaco-list-row"
    line = wait_until(
        "the stats in the menu", lambda: [r.text for r in vscode.find(rows) if "accepted" in r.text], 15
    )
    return int(line[0].rsplit(":", 1)[1].strip())


def select_line(vscode, number: int) -> None:
    vscode.chord(Keys.CONTROL, "g")
    vscode.wait_css(".quick-input-widget .quick-input-box input").send_keys(str(number), Keys.ENTER)
    wait_until(
        "the go-to-line box to close",
        lambda: not vscode.find(".quick-input-widget .quick-input-box input:focus"),
        10,
    )
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
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                busy = driver.find_element(By.TAG_NAME, "body").get_attribute("data-busy")
                bodies = driver.find_elements(By.CSS_SELECTOR, ".message.assistant .message-body")
                state = (busy, len(bodies[-1].text) if bodies else 0)
            except Exception:  # the view re-renders under us
                continue
            if not states or states[-1] != state:
                states.append(state)
            if state[0] == "false" and state[1] > 0:
                break
            time.sleep(0.03)
        final = states[-1][1] if states else 0
        assert final > 0, states
        assert any(busy == "true" and 0 < length < final for busy, length in states), states
        user = driver.find_elements(By.CSS_SELECTOR, ".message.user .message-body")
        assert user and "@shop/checkout.py" in user[-1].text
        sessions = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#session-select option")]
        assert len(sessions) >= 2, sessions  # "New session" and the one just created
    vscode.screenshot("chat")


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
        "the status bar to report the restart", lambda: "restarting" in vscode.status_text(), 60, every=0.1
    )
    vscode.screenshot("server-restarting")
    wait_until(
        "the engine to be ready again", lambda: "aicockpit ready" in vscode.status_text(), ENGINE_READY_S
    )
    (second,) = [p for p in vscode.server.server_processes() if "serve" in p.cmdline()]
    assert second.pid != first.pid


def test_a_server_that_cannot_start_says_why(vscode):
    # The system Python, without aicockpit (-I ignores the PYTHONPATH the tests run with),
    # as a workspace setting; changing the command restarts the server.
    settings = vscode.server.workspace / ".vscode" / "settings.json"
    settings.parent.mkdir(exist_ok=True)
    command = ["/usr/bin/python3", "-I", "-m", "aicockpit", "serve"]
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
