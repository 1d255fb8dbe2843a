"""Failures a Neovim user can see: a completion backend that stalls, then recovers, in a real
headless Neovim with editors/neovim/aicockpit.lua (0.11 and 0.12). status() and the
statusline component show the server's one-line role health (aicockpit/stats) in the
warning colour, a notification says what to change, and all of it goes away by itself."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest

from aicockpit.config import ROLES
from tests.e2e import next_edit_model
from tests.e2e.helpers import NVIM_VERSIONS, nvim_env, run_nvim
from tests.e2e.scripted_model import scripted
from tests.fake_openai import FakeOpenAI
from tests.support import ROOT, wait_until

DRIVER = ROOT / "tests" / "e2e" / "nvim" / "health.lua"


@dataclass
class StallingModel(FakeOpenAI):
    """A scripted backend that, until ``unstalled`` is set, never starts its answers."""

    unstalled: asyncio.Event = field(default_factory=asyncio.Event)

    async def _answer(self, writer, chat, body) -> None:
        await self.unstalled.wait()
        await super()._answer(writer, chat, body)


async def unstall_when_asked(model: StallingModel, marker) -> None:
    """The driver writes ``marker`` when it has seen the stall: answers come from then on."""
    await wait_until(marker.exists, 300, f"the driver to write {marker.name}")
    model.unstalled.set()


@pytest.mark.parametrize("version", NVIM_VERSIONS)
async def test_neovim_says_when_completions_stall_and_recovers_by_itself(tmp_path, version):
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "shop.py").write_text("def subtotal(prices):\n    total = \n")
    marker = tmp_path / "stalled"
    async with StallingModel(answer=scripted(completions={"    total = ": "sum(prices)"})) as model:
        # No tokenizer (ready at once); a probe a second after the breaker opens.
        profile = {**next_edit_model.profile(model.url), "tokenizer": None, "breaker_cooldown_s": 1.0}
        init = {
            "profiles": {"scripted": profile},
            "roles": {role: {"profile": "scripted"} for role in ROLES}
            | {"completion": {"profile": "scripted", "first_token_timeout_ms": 300, "timeout_ms": 1000}},
            "next_edit": {"enabled": False},
        }
        env = nvim_env(tmp_path, file=str(root / "shop.py"), init=json.dumps(init), stalled=str(marker))
        unstall = asyncio.create_task(unstall_when_asked(model, marker))
        try:
            out = await run_nvim(version, DRIVER, env, root)
        finally:
            unstall.cancel()
    assert out.get("error") is None, (out.get("error"), out["steps"])
    # Each state the server reported, in its own words, in the warning colour, and a
    # notification with what to change.
    warnings = [n["message"] for n in out["notices"] if n["level"] == 3]
    expected = {
        "failing": "failing: scripted: timed out waiting for the first token",
        "unreachable": "backend unreachable: scripted",
    }
    for seen, message in expected.items():
        health = out[f"{seen}_health"]  # the role's health in the server's last stats answer
        assert health["state"] == seen and health["message"] == message, health
        assert out[seen]["status"] == f"aicockpit: {health['message']}"
        assert out[seen]["statusline"] == f"%#AicockpitWarning#aicockpit: {health['message']}%*"
        assert f"aicockpit: {health['message']}\n  {health['fix']}" in warnings, (health, warnings)
    # :checkhealth aicockpit: the role and its message, what to change as advice.
    report = "\n".join(out["checkhealth"])
    assert f"completion: {out['unreachable_health']['message']}" in report, report
    assert out["unreachable_health"]["fix"] in report
    # ... and what its prompts are sized to (issue 21: the editors show the chosen budgets).
    assert "completion prompt budget: prefix " in report and " new" in report, report
    # Answers came back in time: quiet again, without the user doing anything about it.
    assert out["recovered"] == {"status": "", "statusline": ""}
    assert out["recovered_health"]["state"] == "ok"
    assert out["notices"][-1] == {"message": "aicockpit: answering in time again", "level": 2}
