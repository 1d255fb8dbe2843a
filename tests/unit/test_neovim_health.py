"""The Neovim integration's health line against the shape of aicockpit/stats' role health
(no server: a headless Neovim feeds it answers), on both Neovim versions."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e.helpers import NVIM_VERSIONS, nvim
from tests.support import ROOT

DRIVER = ROOT / "tests" / "unit" / "nvim" / "health.lua"


@pytest.mark.parametrize("version", NVIM_VERSIONS)
def test_status_and_statusline_say_what_fails_and_recover(tmp_path, version):
    out = tmp_path / "out.json"
    env = {
        "AICOCKPIT_OUT": str(out),
        "AICOCKPIT_PLUGIN": str(ROOT / "editors" / "neovim" / "aicockpit.lua"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(
        [nvim(version), "--headless", "--clean", "-u", "NONE", "-c", f"luafile {DRIVER}"],
        env=env, timeout=60, check=False, capture_output=True,
    )  # fmt: skip
    seen = json.loads(out.read_text())
    slow = "slow: 6.1 s to first token on this machine"
    for quiet in ("before", "ok", "loading", "recovered", "no_health"):
        assert seen[quiet] == {"status": "", "statusline": "", "line": ""}, (quiet, seen[quiet])
    # Two roles on one slow backend: said once; the unreachable chat beside it.
    line = f"{slow}; backend unreachable: team-fim"
    assert seen["bad"]["line"] == line
    assert seen["bad"]["status"] == f"aicockpit: {line}"
    assert seen["bad"]["statusline"] == f"%#AicockpitWarning#aicockpit: {line}%*"
    # With progress beside it, the failure first, in the warning colour, the progress after.
    assert seen["bad_and_busy"]["status"] == f"aicockpit: {line}, aicockpit: answering"
    assert (
        seen["bad_and_busy"]["statusline"] == f"%#AicockpitWarning#aicockpit: {line}%*, aicockpit: answering"
    )
    assert seen["failing"]["line"] == "failing: HTTP 500 from team-fim, 3 in a row"
    # One notification per change: the failure with what to change, the recovery, the next one.
    notices = [(n["message"], n["level"]) for n in seen["notices"]]
    fix = "a smaller prompt: lower completion.latency_target_ms; a GPU; or a remote profile"
    assert notices[0][0].startswith(f"aicockpit: {line}\n") and notices[0][1] == 3  # WARN
    assert f"\n  {fix}" in notices[0][0] and "\n  start team-fim" in notices[0][0]
    assert notices[1] == ("aicockpit: answering in time again", 2)  # INFO
    assert notices[2] == ("aicockpit: failing: HTTP 500 from team-fim, 3 in a row", 3)
    assert notices[3] == ("aicockpit: answering in time again", 2)
    assert len(notices) == 4
