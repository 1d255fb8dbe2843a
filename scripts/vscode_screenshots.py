"""The screenshots in docs/vscode.md, taken in a real VS Code with the real small model.

code-server with the packaged extension (client-vscode/aicockpit.vsix), driven by
headless Chromium like tests/e2e/test_vscode.py, runs `aicockpit serve` on
SmolLM2-135M-Instruct (scripts/setup.sh converts it), so the code in the pictures is
what a model wrote. Each picture is cropped to what it shows.

    PYTHONPATH=server .venv/bin/python scripts/vscode_screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e import vscode as harness  # noqa: E402
from tests.e2e.vscode import Browser, CodeServer, wait_until  # noqa: E402
from tests.support import small_model  # noqa: E402

STATUS_ITEM = "[id$='aicockpit.status']"
UNUSED_PORT = 9  # the discard port: nothing listens on 127.0.0.1 here

SOURCE = '''"""Small helpers for the demo shop."""


def total_cents(prices):
    total = 0
    for p in prices:
        total = total + p
    return total


def read_lines(path):
    """The lines of a text file, without their line ends."""
    with open(path) as f:
        return'''


def serve_command() -> list[str]:
    return [
        sys.executable, "-m", "aicockpit", "serve",
        "--model", str(small_model()), "--enforce-eager", "--max-model-len", "4096",
    ]  # fmt: skip


class Shots:
    def __init__(self, browser: Browser, out: Path) -> None:
        self.browser = browser
        self.out = out
        out.mkdir(parents=True, exist_ok=True)

    def rect(self, css: str) -> dict:
        (element,) = [e for e in self.browser.find(css) if e.is_displayed()][:1]
        return element.rect

    def take(self, name: str, box: tuple[float, float, float, float]) -> Path:
        """Crop the window to ``box`` (left, top, right, bottom, CSS pixels) and save it."""
        driver = self.browser.driver
        driver.switch_to.default_content()
        image = Image.open(io.BytesIO(driver.get_screenshot_as_png()))
        scale = image.width / driver.execute_script("return window.innerWidth")
        left, top, right, bottom = (round(v * scale) for v in box)
        cropped = image.crop((max(0, left), max(0, top), min(image.width, right), min(image.height, bottom)))
        path = self.out / f"{name}.png"
        cropped.convert("RGB").quantize(colors=128).save(path, optimize=True)
        print(f"{path}: {cropped.width}x{cropped.height}, {path.stat().st_size // 1024} KB")
        return path


def union(*rects: dict, pad: float = 8) -> tuple[float, float, float, float]:
    return (
        min(r["x"] for r in rects) - pad,
        min(r["y"] for r in rects) - pad,
        max(r["x"] + r["width"] for r in rects) + pad,
        max(r["y"] + r["height"] for r in rects) + pad,
    )


def toast_box(shots: Shots, text: str, timeout: float = 180) -> tuple[float, float, float, float]:
    toast = wait_until(
        f"a notification saying {text!r}",
        lambda: [t for t in shots.browser.find(".notification-toast") if t.is_displayed() and text in t.text],
        timeout,
        every_s=0.1,
    )[0]
    time.sleep(0.5)  # its slide-in animation
    return union(toast.rect, pad=6)


def ghost_text(browser: Browser) -> str:
    return "".join(e.text for e in browser.find(".ghost-text-decoration, .ghost-text"))


def workspace_settings(server: CodeServer, values: dict) -> None:
    path = server.workspace / ".vscode" / "settings.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(values))


def status_with_hover(shots: Shots, name: str) -> None:
    """The status item in the status bar, with the tooltip that hovering over it shows."""
    browser = shots.browser

    def hovered() -> tuple[float, float, float, float] | None:
        # The item is drawn again at each poll of the server's state: look it up each time.
        item = [e for e in browser.find(STATUS_ITEM) if e.is_displayed()][0]
        ActionChains(browser.driver).move_to_element(item).perform()
        hovers = [h for h in browser.find(".workbench-hover, .monaco-hover") if h.is_displayed() and h.text]
        return union(hovers[0].rect, item.rect, pad=8) if hovers else None

    box = wait_until("the status item's tooltip", hovered, 15)
    time.sleep(0.5)
    bar = shots.rect(".part.statusbar")
    shots.take(name, (box[0], box[1], bar["x"] + bar["width"], box[3]))
    ActionChains(browser.driver).move_by_offset(0, -400).perform()  # the tooltip goes


def go_to_line(browser: Browser, line: int) -> None:
    browser.chord(Keys.CONTROL, "g")
    browser.wait_css(".quick-input-widget .quick-input-box input").send_keys(str(line), Keys.ENTER)
    time.sleep(0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    harness.USER_SETTINGS.update(
        {
            "aicockpit.completion.max_tokens": 24,
            "aicockpit.edit.max_tokens": 200,
            "aicockpit.chat.max_tokens": 300,
            "workbench.colorTheme": "Default Light Modern",
            "editor.fontSize": 14,
        }
    )
    # Deadlines from the measured speed, as a user's are (what the slow state's advice assumes).
    harness.USER_SETTINGS.pop("aicockpit.completion.timeout_ms", None)
    server = CodeServer()
    (server.workspace / "helpers.py").write_text(SOURCE)
    settings = server.user_data / "User" / "settings.json"
    user = json.loads(settings.read_text())
    user["aicockpit.client.serverCommand"] = serve_command()
    settings.write_text(json.dumps(user, indent=2))
    server.start()
    browser = Browser(server.url)
    browser.driver.set_window_size(1400, 820)
    shots = Shots(browser, args.out)
    try:
        browser.wait_css(".monaco-workbench", timeout=180)
        wait_until("the model to load", lambda: "aicockpit ready" in browser.status_text(), 600, every_s=1)

        # Ghost text: the model finishes the function; the list of suggestions stays shut.
        browser.open_file("helpers.py")
        browser.chord(Keys.CONTROL, Keys.END)
        # Asked for right after `return` (the model writes the space itself).
        browser.run_command("Trigger Inline Suggestion")
        wait_until("ghost text", lambda: ghost_text(browser).strip(), 120)
        time.sleep(0.5)
        editor = shots.rect(".editor-group-container.active .monaco-editor")
        ghost = shots.rect(".ghost-text-decoration, .ghost-text")
        shots.take(
            "ghost-text",
            (editor["x"], ghost["y"] - 250, editor["x"] + 760, ghost["y"] + ghost["height"] + 60),
        )
        browser.keys(Keys.TAB)
        browser.chord(Keys.CONTROL, "s")

        # Ctrl+K: an instruction for the selection, shown as a diff to accept or reject.
        go_to_line(browser, 4)
        browser.keys(Keys.HOME)
        select = ActionChains(browser.driver).key_down(Keys.SHIFT).send_keys(*[Keys.DOWN] * 5)
        select.key_up(Keys.SHIFT).perform()  # total_cents, whole
        browser.chord(Keys.CONTROL, "k")
        box = browser.wait_css(".quick-input-widget .quick-input-box input", timeout=30)
        box.send_keys("add type hints", Keys.ENTER)
        toast_box(shots, "aicockpit: editing helpers.py")
        try:  # the progress in words, once the model has written a line
            box = toast_box(shots, "written", timeout=60)
        except TimeoutError:
            box = toast_box(shots, "aicockpit: editing helpers.py")
        shots.take("edit-progress", box)
        wait_until("the diff", lambda: browser.find(".monaco-diff-editor"), 300)
        toast = toast_box(shots, "apply the proposed edit?")
        diff = shots.rect(".monaco-diff-editor")
        shots.take("ctrl-k-diff", (diff["x"], diff["y"] - 36, diff["x"] + diff["width"], toast[3]))
        browser.notification_button("Reject").click()
        wait_until("the diff to close", lambda: not browser.find(".monaco-diff-editor"), 30)

        # Chat: its own view in the activity bar; the answer streams in, code blocks get actions.
        browser.run_command("aicockpit: Open Chat")
        frame = wait_until("the chat webview", lambda: browser.find("iframe.webview.ready"), 60)[0]
        driver = browser.driver
        driver.switch_to.frame(frame)
        page = wait_until("the page", lambda: driver.find_elements(By.ID, "active-frame"), 30)[0]
        driver.switch_to.frame(page)
        box = wait_until("the chat input", lambda: driver.find_elements(By.ID, "input"), 30)[0]
        box.click()
        box.send_keys("Write a Python function that returns the average of a list of numbers.", Keys.ENTER)
        wait_until(
            "the answer",
            lambda: (
                driver.find_element(By.TAG_NAME, "body").get_attribute("data-busy") == "false"
                and (bodies := driver.find_elements(By.CSS_SELECTOR, ".message.assistant .message-body"))
                and bodies[-1].text.strip()
            ),
            300,
        )
        driver.switch_to.default_content()
        side = shots.rect(".part.sidebar")
        activity = shots.rect(".part.activitybar")
        shots.take("chat", union(activity, side, pad=0))

        # Ghost text late: with a latency target below what this CPU can do, the status item
        # turns to the warning colour and says how late, and its tooltip what to change.
        browser.open_file("helpers.py")
        browser.chord(Keys.CONTROL, Keys.END)
        browser.keys(Keys.ENTER, Keys.ENTER, "def mean(values):", Keys.ENTER, "return ")
        workspace_settings(server, {"aicockpit.completion.latency_target_ms.cold": 200})
        browser.type_until("slow", lambda: "slow:" in browser.status_text(), 300, pause_s=3)
        status_with_hover(shots, "status-slow")

        # A remote profile nothing answers at: the breaker opens, the item says which backend.
        profile = {
            "backend": "openai",
            "url": f"http://127.0.0.1:{UNUSED_PORT}/v1",
            "model": "team-fim",
            "tokenizer": str(small_model()),
            "breaker_failures": 2,
        }
        workspace_settings(
            server,
            {
                "aicockpit.profiles": {"team-fim": profile},
                "aicockpit.roles.completion.profile": "team-fim",
            },
        )
        browser.type_until("unreachable", lambda: "unreachable" in browser.status_text(), 300, pause_s=2)
        status_with_hover(shots, "status-unreachable")
        browser.keys(Keys.ESCAPE)

        # A server command that does not exist: one notification naming it and the setting.
        browser.run_command("Notifications: Clear All Notifications")
        wrong = ["/opt/nowhere/bin/aicockpit", "serve"]
        workspace_settings(server, {"aicockpit.client.serverCommand": wrong})
        shots.take("wrong-command", toast_box(shots, "was not found"))

        # A model folder that does not exist: the server's sentence, with the setting to open.
        browser.run_command("Notifications: Clear All Notifications")
        command = serve_command()
        at = command.index("--model")
        del command[at : at + 2]
        workspace_settings(
            server, {"aicockpit.client.serverCommand": command, "aicockpit.engine.model": "/opt/models/coder"}
        )
        shots.take("missing-model", toast_box(shots, "cannot load the model"))
    finally:
        browser.quit()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
