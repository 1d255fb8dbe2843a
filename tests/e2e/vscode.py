"""A real VS Code for the end-to-end tests: code-server (installed by scripts/setup.sh
under .cache/code-server) with the packaged extension, driven by headless Chromium
through selenium. Screenshots go to artifacts/vscode/."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psutil
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

from tests.support import ROOT, RUN_DIR, WORKSPACE, serve_command, server_env

CODE_SERVER = ROOT / ".cache" / "code-server" / "node_modules" / ".bin" / "code-server"
VSIX = ROOT / "client-vscode" / "aicockpit.vsix"
ARTIFACTS = ROOT / "artifacts" / "vscode"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SETUP_HINT = "run `bash scripts/setup.sh` (it builds the .vsix and installs code-server and Chromium)"

T = TypeVar("T")

USER_SETTINGS: dict[str, Any] = {
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.ignoreRecommendations": True,
    "extensions.autoCheckUpdates": False,
    "security.workspace.trust.enabled": False,
    "chat.commandCenter.enabled": False,
    "files.autoSave": "off",
    "window.restoreWindows": "none",
    "git.enabled": False,
    "git.openRepositoryInParentFolders": "never",
    # No editor.* or remote.* setting: the editor behaves as a new user's does (quick
    # suggestions, word-based suggestions, auto-closing pairs, auto-forwarded ports).
    "aicockpit.completion.max_tokens": 16,
    "aicockpit.edit.max_tokens": 48,
    # Long enough to stream for a second or more: 48 tokens can arrive before the
    # test's polling of the view sees it busy.
    "aicockpit.chat.max_tokens": 400,
    "aicockpit.client.statsIntervalMs": 500,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(what: str, probe: Callable[[], T | None], timeout: float, every_s: float = 0.25) -> T:
    """Call ``probe`` every ``every_s`` until it returns something truthy, and return that; after
    ``timeout`` s fail, saying ``what``. The synchronous twin of tests.support.wait_until, for
    Selenium: an element that goes stale while it is read is read again."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except (StaleElementReferenceException, WebDriverException) as err:
            last_error = err
        time.sleep(every_s)
    also = f"; last error: {last_error}" if last_error else ""
    raise TimeoutError(f"waited {timeout:g} s for {what}{also}")


def seen_during(seconds: float, look: Callable[[], T], every_s: float = 0.2) -> list[T]:
    """What ``look`` returns, looked at over ``seconds``: for what must NOT happen in that time
    (a restart, a second notification). A window of the scenario: no event says nothing came."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            seen.append(look())
        except (StaleElementReferenceException, WebDriverException):
            pass  # an element re-rendered while it was read: the next look reads it again
        time.sleep(every_s)
    return seen


class CodeServer:
    """code-server on 127.0.0.1 with a scratch user-data dir, extensions dir and workspace."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        for path, hint in (
            (CODE_SERVER, "code-server"),
            (VSIX, "the .vsix"),
            (Path(CHROMEDRIVER), "chromedriver"),
        ):
            if not path.exists():
                raise RuntimeError(f"{hint} is missing ({path}): {SETUP_HINT}")
        self.base = RUN_DIR / "vscode"
        shutil.rmtree(self.base, ignore_errors=True)
        self.workspace = self.base / "workspace"
        shutil.copytree(WORKSPACE, self.workspace)
        self.user_data = self.base / "user-data"
        self.extensions = self.base / "extensions"
        (self.user_data / "User").mkdir(parents=True)
        settings = {
            **USER_SETTINGS,
            "aicockpit.client.serverCommand": serve_command(),
            # This checkout's server, whatever the Python's installed package points at.
            "aicockpit.client.serverEnv": {"PYTHONPATH": str(ROOT / "server")},
            **(settings or {}),
        }
        (self.user_data / "User" / "settings.json").write_text(json.dumps(settings, indent=2))
        self.env = {**server_env(), "XDG_CONFIG_HOME": str(self.base / "xdg-config")}
        self.env.pop("VSCODE_IPC_HOOK_CLI", None)
        self.port = free_port()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / "code-server.log"
        self.process: subprocess.Popen | None = None
        self.servers_at_stop: list[psutil.Process] = []

    def _args(self) -> list[str]:
        return [
            str(CODE_SERVER),
            "--auth", "none",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--user-data-dir", str(self.user_data),
            "--extensions-dir", str(self.extensions),
        ]  # fmt: skip

    def start(self) -> None:
        subprocess.run(
            [*self._args(), "--install-extension", str(VSIX)],
            env=self.env, check=True, capture_output=True, timeout=180,
        )  # fmt: skip
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [*self._args(), "--bind-addr", f"127.0.0.1:{self.port}", str(self.workspace)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        wait_until("code-server to listen", self._healthy, timeout=120, every_s=0.5)

    def _healthy(self) -> bool:
        if self.process and self.process.poll() is not None:
            raise RuntimeError(f"code-server exited ({self.process.returncode}); see {self.log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?folder={self.workspace}"

    def server_processes(self) -> list[psutil.Process]:
        """The aicockpit servers code-server's extension host started."""
        if not self.process:
            return []
        children = psutil.Process(self.process.pid).children(recursive=True)
        return [p for p in children if "aicockpit" in " ".join(_cmdline(p))]

    def stop(self) -> None:
        if not self.process:
            return
        # The servers its extension host started: for the check that none outlives it.
        self.servers_at_stop = self.server_processes()
        try:
            family = [
                psutil.Process(self.process.pid),
                *psutil.Process(self.process.pid).children(recursive=True),
            ]
        except psutil.NoSuchProcess:
            family = []
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        _, alive = psutil.wait_procs(family, timeout=15)
        for proc in alive:
            proc.kill()
        self.process = None


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


class Browser:
    """Headless Chromium on the workbench page, with VS Code-shaped helpers."""

    def __init__(self, url: str) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--window-size=1600,1000",
            f"--user-data-dir={RUN_DIR / 'vscode' / 'chromium'}",
        ):  # fmt: skip
            options.add_argument(flag)
        service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.set_window_size(1600, 1000)
        self.driver.get(url)
        self.shots = 0

    def screenshot(self, name: str) -> Path:
        self.shots += 1
        path = ARTIFACTS / f"{self.shots:02d}-{name}.png"
        self.driver.switch_to.default_content()
        self.driver.save_screenshot(str(path))
        return path

    def find(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_css(self, css: str, timeout: float = 60, visible: bool = True) -> WebElement:
        def probe():
            for element in self.find(css):
                if not visible or element.is_displayed():
                    return element
            return None

        return wait_until(f"`{css}`", probe, timeout)

    def keys(self, *keys: str) -> None:
        ActionChains(self.driver).send_keys(*keys).perform()

    def chord(self, modifier: str, key: str) -> None:
        ActionChains(self.driver).key_down(modifier).send_keys(key).key_up(modifier).perform()

    def run_command(self, title: str) -> None:
        """Run a command from the command palette by its title."""
        self.keys(Keys.F1)
        box = self.wait_css(".quick-input-widget .quick-input-box input")
        box.send_keys(f">{title}" if not box.get_attribute("value").startswith(">") else title)
        wait_until(
            f"the command `{title}` in the palette",
            lambda: any(
                title.lower() in row.text.lower() for row in self.find(".quick-input-list .monaco-list-row")
            ),
            timeout=30,
        )
        box.send_keys(Keys.ENTER)

    def open_file(self, name: str) -> WebElement:
        self.chord(Keys.CONTROL, "p")
        box = self.wait_css(".quick-input-widget .quick-input-box input")
        box.send_keys(name)
        wait_until(
            f"{name} in quick open",
            lambda: any(name in row.text for row in self.find(".quick-input-list .monaco-list-row")),
            timeout=30,
        )
        box.send_keys(Keys.ENTER)
        wait_until(
            f"an editor tab for {name}", lambda: any(name in t.text for t in self.find(".tab.active")), 30
        )
        return self.editor_input()

    def editor_input(self) -> WebElement:
        return self.wait_css(
            ".editor-group-container.active .monaco-editor textarea.inputarea, "
            ".editor-group-container.active .monaco-editor .native-edit-context",
            visible=False,
        )

    def status_text(self) -> str:
        items = self.find("#aicockpit\\.aicockpit\\.status, [id$='aicockpit.status']")
        return " ".join(item.text for item in items)

    def status_items(self) -> list[str]:
        return [item.text for item in self.find(".statusbar-item") if item.text.strip()]

    def toasts(self) -> list[str]:
        """The messages of the notifications on screen (without their buttons and source)."""
        return [
            m.text
            for t in self.find(".notification-toast")
            if t.is_displayed()
            for m in t.find_elements(By.CSS_SELECTOR, ".notification-list-item-message")
        ]

    def suggest_rows(self) -> list[str]:
        """The rows of the editor's suggestion list, if it is open."""
        rows = ".editor-widget.suggest-widget.visible .monaco-list-row"
        return [r.get_attribute("aria-label") or r.text for r in self.find(rows)]

    def notification_button(self, label: str) -> WebElement | None:
        for button in self.find(".notification-toast .monaco-button, .notifications-center .monaco-button"):
            if button.is_displayed() and button.text.strip() == label:
                return button
        return None

    def type_until(self, what: str, probe: Callable[[], T | None], timeout: float, pause_s: float) -> T:
        """In the editor, type a space, then remove it (each asks for ghost text), and so on, until
        ``probe`` returns something; ``pause_s`` between keys lets a request finish first."""
        self.chord(Keys.CONTROL, "1")  # the editor has the keyboard (not a menu or the status bar)
        deadline = time.monotonic() + timeout
        typed = 0
        while time.monotonic() < deadline:
            self.keys(Keys.SPACE if typed % 2 == 0 else Keys.BACKSPACE)
            typed += 1
            try:
                return wait_until(what, probe, min(pause_s, max(0.1, deadline - time.monotonic())), 0.1)
            except TimeoutError:
                pass
        raise TimeoutError(f"waited {timeout:g} s, typing, for {what}")

    def quit(self) -> None:
        try:
            self.driver.quit()
        except WebDriverException:
            pass


@contextmanager
def vscode_session(settings: dict[str, Any] | None = None) -> Iterator[Browser]:
    """code-server with the extension, and Chromium on its workbench; at the end a last
    screenshot, then both stop (``browser.server.servers_at_stop``: the servers it had)."""
    server = CodeServer(settings=settings)
    browser = None
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
        server.stop()
