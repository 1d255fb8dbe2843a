"""A terminal editor run for real in tmux (Helix, Neovim's TUI): keys in, the screen out, and
the screen drawn to a PNG with its colours (artifacts/, and the pictures in docs/images).

tmux runs on a socket of its own per Terminal, so nothing else's sessions are touched.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tests.support import wait_until

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
BOLD_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf")
FOREGROUND, BACKGROUND = (0xD4, 0xD4, 0xD4), (0x1E, 0x1E, 0x1E)
BASIC = [  # the 16 ANSI colours (xterm's)
    (0x00, 0x00, 0x00), (0xCD, 0x00, 0x00), (0x00, 0xCD, 0x00), (0xCD, 0xCD, 0x00),
    (0x00, 0x00, 0xEE), (0xCD, 0x00, 0xCD), (0x00, 0xCD, 0xCD), (0xE5, 0xE5, 0xE5),
    (0x7F, 0x7F, 0x7F), (0xFF, 0x00, 0x00), (0x00, 0xFF, 0x00), (0xFF, 0xFF, 0x00),
    (0x5C, 0x5C, 0xFF), (0xFF, 0x00, 0xFF), (0x00, 0xFF, 0xFF), (0xFF, 0xFF, 0xFF),
]  # fmt: skip
SGR = re.compile(r"\x1b\[([0-9;:]*)m")


class Terminal:
    def __init__(self, folder: Path, width: int = 100, height: int = 30) -> None:
        self.socket = folder / "tmux.sock"
        self.width, self.height = width, height

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, f"tmux {args[0]}: {done.stderr}"
        return done.stdout

    def start(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        """Runs ``command`` in a new tmux session of this terminal's size."""
        shell = "cd {} && exec env {} {}".format(
            shlex.quote(str(cwd)),
            " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()),
            shlex.join(command),
        )
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "editor", "-x", str(self.width),
                   "-y", str(self.height), shell)  # fmt: skip
        # Keys arrive as typed: no wait after Escape for a key it might start.
        self._tmux("set-option", "-s", "escape-time", "0")

    def keys(self, *keys: str) -> None:
        """tmux key names (Enter, Escape, C-n, Tab) and words, sent one argument at a time."""
        for key in keys:
            self._tmux("send-keys", "-t", "editor", key)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "editor", "-l", text)

    def screen(self) -> list[str]:
        return self._tmux("capture-pane", "-p", "-t", "editor").split("\n")[: self.height]

    def ansi(self) -> str:
        return self._tmux("capture-pane", "-p", "-e", "-t", "editor")

    async def wait_for(
        self, condition: Callable[[list[str]], bool], what: str, timeout: float = 60
    ) -> list[str]:
        """Polls the screen until ``condition`` holds; fails with the screen as it was."""

        def shown() -> list[str] | None:
            screen = self.screen()
            return screen if condition(screen) else None

        try:
            return await wait_until(shown, timeout, what)
        except AssertionError as err:
            raise AssertionError(f"{err}; the screen:\n" + "\n".join(self.screen())) from None

    def close(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=30)

    def png(self, path: Path, rows: tuple[int, int] | None = None) -> Path:
        """The screen (or rows first..last) as a PNG at ``path``, the cursor drawn."""
        lines = self.ansi().split("\n")[: self.height]
        x, y = (
            int(v)
            for v in self._tmux("display-message", "-p", "-t", "editor", "#{cursor_x},#{cursor_y}").split(",")
        )
        first, last = rows or (0, len(lines) - 1)
        render_png(lines[first : last + 1], self.width, path, cursor=(x, y - first))
        return path


def colour(params: list[int], at: int) -> tuple[tuple[int, int, int] | None, int]:
    """The colour of an SGR 38/48 sequence starting at ``at`` (5;n or 2;r;g;b) and the next index."""
    if params[at] == 5 and at + 1 < len(params):
        return palette(params[at + 1]), at + 2
    if params[at] == 2 and at + 3 < len(params):
        return (params[at + 1], params[at + 2], params[at + 3]), at + 4
    return None, at + 1


def palette(n: int) -> tuple[int, int, int]:
    if n < 16:
        return BASIC[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return steps[n // 36], steps[n // 6 % 6], steps[n % 6]
    gray = 8 + (n - 232) * 10
    return gray, gray, gray


def cells(line: str):
    """(char, fg, bg, bold) per character of one captured line."""
    fg, bg, bold, reverse = None, None, False, False
    pos = 0
    for match in [*SGR.finditer(line), None]:
        end = match.start() if match else len(line)
        for char in line[pos:end]:
            f, b = (bg or BACKGROUND, fg or FOREGROUND) if reverse else (fg or FOREGROUND, bg or BACKGROUND)
            yield char, f, b, bold
        if match is None:
            return
        pos = match.end()
        params = [int(p) if p else 0 for p in re.split("[;:]", match.group(1))] or [0]
        i = 0
        while i < len(params):
            p = params[i]
            i += 1
            if p == 0:
                fg, bg, bold, reverse = None, None, False, False
            elif p == 1:
                bold = True
            elif p == 22:
                bold = False
            elif p == 7:
                reverse = True
            elif p == 27:
                reverse = False
            elif 30 <= p <= 37 or 90 <= p <= 97:
                fg = BASIC[p - 30 if p < 90 else p - 90 + 8]
            elif 40 <= p <= 47 or 100 <= p <= 107:
                bg = BASIC[p - 40 if p < 100 else p - 100 + 8]
            elif p in (38, 48) and i < len(params):
                value, i = colour(params, i)
                if p == 38:
                    fg = value
                else:
                    bg = value
            elif p == 39:
                fg = None
            elif p == 49:
                bg = None


def render_png(
    lines: list[str], width: int, path: Path, cursor: tuple[int, int] | None = None, size: int = 15
) -> None:
    # The editor's own background (its first cell's) where tmux keeps no colour (line ends).
    background = next((bg for _, _, bg, _ in cells(lines[0])), BACKGROUND) if lines else BACKGROUND
    regular, bold = ImageFont.truetype(str(FONT), size), ImageFont.truetype(str(BOLD_FONT), size)
    left, top, right, bottom = regular.getbbox("M")
    cell_w, cell_h = round(regular.getlength("M")), round(size * 1.3)
    image = Image.new("RGB", (width * cell_w + 16, len(lines) * cell_h + 16), background)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        y = 8 + row * cell_h
        for col, (char, fg, bg, is_bold) in enumerate(cells(line + "\x1b[0m" + " " * width)):
            if col >= width:
                break
            if (col, row) == cursor:
                fg, bg = bg, fg
            x = 8 + col * cell_w
            if bg != BACKGROUND:  # a colour of its own (else the image's)
                draw.rectangle([x, y, x + cell_w - 1, y + cell_h - 1], fill=bg)
            if char != " ":
                draw.text(
                    (x, y + (cell_h - (bottom - top)) // 2 - top),
                    char,
                    fill=fg,
                    font=bold if is_bold else regular,
                )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
