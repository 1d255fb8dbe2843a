"""aicockpit.switchProfile over LSP: a role moves to a remote profile and back, with progress.

Moving every role off the embedded model unloads it; moving back loads it again
while requests for that role get an immediate empty answer.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from lsprotocol import types

from aicockpit.config import ROLES
from tests.conftest import INIT_OPTIONS
from tests.e2e.helpers import inline_params, open_doc
from tests.fake_openai import FakeOpenAI
from tests.support import plain, stats, stats_where, wait_until


async def switch(client, role: str, profile: str) -> dict:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="aicockpit.switchProfile", arguments=[role, profile])
    )
    return plain(result)


@pytest.fixture
async def with_fake_profile(ready):
    async with FakeOpenAI(pieces=("remote", "_answer")) as server:
        settings = {
            **INIT_OPTIONS,
            "profiles": {"fake": {"backend": "openai", "url": server.url, "model": "m"}},
        }
        # No wait: the server handles messages in order, so the settings apply before the
        # next request (and a profile no role uses shows nowhere in the stats).
        ready.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
        yield ready
        no_switch = stats_where(ready, lambda s: not any(r["switching_to"] for r in s["roles"].values()))
        current = await wait_until(no_switch, 300, "no role switching")
        for role in ROLES:
            if current["roles"][role]["profile"] != "default":
                await switch(ready, role, "default")
        ready.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=INIT_OPTIONS))
        back = stats_where(ready, lambda s: s["engine"]["state"] == "ready" and "fake" not in s["backends"])
        await wait_until(back, 60, "the engine ready and the profile fake gone")


async def test_switch_to_remote_unloads_the_embedded_model_and_back(with_fake_profile):
    client = with_fake_profile
    uri = open_doc(client, "def total(items):\n    return \n")

    result = await switch(client, "completion", "fake")
    assert result == {"role": "completion", "profile": "fake", "state": "ready", "error": ""}
    answer = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
    assert answer.items[0].insert_text == "remote_answer"
    assert (await stats(client))["engine"]["state"] == "ready"  # the other roles still use it

    tokens_before = set(client.progress_reports)
    for role in ROLES[1:]:
        await switch(client, role, "fake")
    current = await stats(client)
    assert current["engine"]["state"] == "stopped"
    assert (
        current["backends"]["default"]["state"] == "stopped" and not current["backends"]["default"]["in_use"]
    )
    reports = [
        r for token in set(client.progress_reports) - tokens_before for r in client.progress_reports[token]
    ]
    messages = [getattr(r, "message", "") or "" for r in reports]
    assert any("unloading an embedded model" in m for m in messages), messages

    # Back to the embedded model: it loads again; meanwhile completions answer at once, empty.
    back = asyncio.ensure_future(switch(client, "completion", "default"))
    switching = stats_where(client, lambda s: s["roles"]["completion"]["switching_to"] == "default")
    await wait_until(switching, 10, "completion switching to default")
    started = time.perf_counter()
    during = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
    assert not during.items and time.perf_counter() - started < 2
    result = await asyncio.wait_for(back, 300)
    assert result["state"] == "ready"
    answer = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
    assert answer.items and answer.items[0].insert_text != "remote_answer"


async def test_switch_profile_rejects_bad_arguments(ready):
    for arguments in ([], ["chat"], ["chat", "nope"], ["review", "default"], [{"role": "chat"}], [1, 2]):
        with pytest.raises(Exception, match="profile|role"):
            await ready.workspace_execute_command_async(
                types.ExecuteCommandParams(command="aicockpit.switchProfile", arguments=arguments)
            )
    assert (await stats(ready))["roles"]["chat"]["profile"] == "default"


async def test_usage_request_validates_and_reports(ready):
    usage = plain(await ready.protocol.send_request_async("aicockpit/usage", {"days": 1}))
    assert usage["enabled"] and usage["path"].endswith("usage.sqlite3")
    with pytest.raises(Exception, match="days"):
        await ready.protocol.send_request_async("aicockpit/usage", {"days": -1})
