"""What the VS Code status item says when ghost text is late or its backend is gone, and that it
clears by itself: code-server with the bundled extension and the real `aicockpit serve`, every
role on one remote profile, `team-fim`, a scripted OpenAI-compatible server
(tests/fake_openai.py) that answers late, then stalls, then recovers. No role uses the
embedded engine, so no model loads: the session is cheap.
"""

from __future__ import annotations

import re

import pytest
from selenium.webdriver.common.keys import Keys

from tests.e2e import next_edit_model
from tests.e2e.vscode import Browser, vscode_session, wait_until
from tests.fake_openai import FakeOpenAI
from tests.support import tiny_model

PROFILE = "team-fim"
# Far apart, so that a loaded machine's own delays (a few hundred ms) tell nothing: on time
# is well under the target, late is well over it.
TARGET_MS = 1000  # the cold latency target: slow is over 1.2 times this
LATE_S = 2.5  # how late the backend answers while slow
FIRST_TOKEN_TIMEOUT_MS = 4000  # while it stalls, each request fails after this
ITEM = "[id$='aicockpit.status']"


@pytest.fixture(scope="module")
def backend():
    with next_edit_model.in_thread(FakeOpenAI(pieces=("sum(", "items)"))) as fake:
        yield fake


@pytest.fixture(scope="module")
def vscode(backend):
    profile = {
        "backend": "openai",
        "url": backend.url,
        "model": "fim",
        "tokenizer": str(tiny_model()),
        "retries": 0,  # each stalled request is one failure, after the first-token timeout
        "breaker_failures": 2,
        "breaker_cooldown_s": 2,
    }
    every_role = ("completion", "edit", "chat", "next_edit")
    roles = {f"aicockpit.roles.{role}.profile": PROFILE for role in every_role}
    with vscode_session(
        {
            "aicockpit.profiles": {PROFILE: profile},
            **roles,
            "aicockpit.roles.completion.first_token_timeout_ms": FIRST_TOKEN_TIMEOUT_MS,
            "aicockpit.completion.latency_target_ms.cold": TARGET_MS,
            "aicockpit.next_edit.enabled": False,
        }
    ) as browser:
        yield browser


class Status:
    """The status item as the user sees it, and every text it showed."""

    def __init__(self, vscode: Browser) -> None:
        self.vscode = vscode
        self.seen: list[str] = []

    def text(self) -> str:
        text = self.vscode.status_text().strip()  # the icon is a character of its own
        if text and (not self.seen or self.seen[-1] != text):
            self.seen.append(text)
        return text

    def warning(self) -> bool:
        return any("warning-kind" in (e.get_attribute("class") or "") for e in self.vscode.find(ITEM))

    def type_until(self, what: str, condition, timeout: float, pause_s: float) -> str:
        """Type in the editor until the status item's text fits ``condition``."""

        def fits() -> str | None:
            text = self.text()
            return text if condition(text) else None

        try:
            return self.vscode.type_until(what, fits, timeout, pause_s)
        except TimeoutError as err:
            raise TimeoutError(f"{err}; the status item showed {self.seen}") from None


def menu_rows(vscode: Browser, words: str = "") -> list[str]:
    """The rows of the status item's menu (clicked open), those with ``words`` when given (the
    menu's own filter: the list shows only the rows that fit on screen)."""
    vscode.keys(Keys.ESCAPE)
    vscode.find(f"{ITEM} a, {ITEM}")[0].click()
    box = vscode.wait_css(".quick-input-widget .quick-input-box input", timeout=15)
    rows = ".quick-input-list .monaco-list-row"
    wait_until("the status menu", lambda: [r for r in vscode.find(rows) if r.text], 15)
    if words:
        box.send_keys(words)
        wait_until(f"menu rows with {words!r}", lambda: all(words in r.text for r in vscode.find(rows)), 15)
    return [r.text.strip() for r in vscode.find(rows) if r.text.strip()]


def ready(text: str) -> bool:
    return "aicockpit ready" in text


def test_the_status_item_says_slow_then_unreachable_then_recovers(vscode, backend):
    status = Status(vscode)
    wait_until("the server to be ready", lambda: ready(status.text()), 180)
    vscode.open_file("app.py")
    vscode.chord(Keys.CONTROL, Keys.END)
    vscode.keys(Keys.ENTER, Keys.ENTER, "def total(items):", Keys.ENTER, "return ")

    # Late answers: the warning colour and the server's words, with what to change in the menu.
    backend.mode, backend.delay = "slow_first", LATE_S
    slow = status.type_until("the slow state", lambda t: "slow:" in t, 120, pause_s=LATE_S + 1)
    assert re.fullmatch(r"aicockpit: slow: \d+\.\d s to first token from team-fim", slow), slow
    assert status.warning()
    vscode.screenshot("status-slow")
    rows = menu_rows(vscode)
    vscode.screenshot("status-slow-menu")
    # First the trouble and what to change, then a way to change it.
    trouble, fix = rows[0].split("\nWhat to change: ")
    assert trouble == slow.removeprefix("aicockpit: ") and fix, rows
    assert any(row.startswith("Open setting aicockpit.") for row in rows[1:]), rows
    assert "Switch the ghost text profile" in rows, rows
    # The row cut short on screen, chosen, says it whole (the first row has the focus).
    vscode.keys(Keys.ENTER)
    toast = wait_until("the sentence", lambda: [t for t in vscode.toasts() if "What to change" in t], 15)
    assert toast == [f"{slow}. What to change: {fix}"], toast
    vscode.run_command("Notifications: Clear All Notifications")
    # The figures behind it: the measured speed and the prompt budget.
    (speed,) = menu_rows(vscode, "Ghost text speed")
    assert re.fullmatch(r"Ghost text speed: .*first token \d+\.\d s \(p50 of \d+\)", speed), speed
    (prompt,) = menu_rows(vscode, "Ghost text prompt")
    assert re.fullmatch(r"Ghost text prompt: prefix [\d,]+ .*target 1\.0 s cold.*", prompt), prompt
    vscode.keys(Keys.ESCAPE)

    # It stalls: no answer at all, the breaker opens.
    backend.mode = "silent"
    stalled_from = len(status.seen)
    unreachable = status.type_until(
        "the unreachable state",
        lambda t: "unreachable" in t,
        120,
        pause_s=FIRST_TOKEN_TIMEOUT_MS / 1000 + 1.5,
    )
    assert unreachable == "aicockpit: backend unreachable: team-fim", unreachable
    assert status.warning()
    vscode.screenshot("status-unreachable")
    rows = menu_rows(vscode)
    assert rows[0].startswith("backend unreachable: team-fim\nWhat to change: "), rows
    assert backend.url in rows[0], rows
    vscode.keys(Keys.ESCAPE)

    # Answers come back in time: the item clears by itself, nothing clicked.
    backend.mode = "ok"
    recovered = status.type_until("recovery", ready, 180, pause_s=1.5)
    assert not status.warning()
    vscode.screenshot("status-recovered")
    # A failed or timed-out request is never shown as a latency: from the stall on, no figure
    # as long as a stalled request's wait (the late answers before it were real latencies).
    since_stall = status.seen[stalled_from:]
    shown = [int(ms) for text in since_stall for ms in re.findall(r"(\d+) ms", text)]
    assert all(ms < FIRST_TOKEN_TIMEOUT_MS for ms in shown), since_stall
    assert re.fullmatch(r"aicockpit ready · (\d+ ms · )?cache \d+%", recovered), recovered
