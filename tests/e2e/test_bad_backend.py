"""A remote backend answering garbage: every completion ends empty, in time, with a logged reason.

The session's language server gets a profile pointing at a scripted local HTTP
server; the completion role uses it with no fallback, so nothing hides the failure.
"""

from __future__ import annotations

import time

import pytest
from lsprotocol import types

from tests.conftest import INIT_OPTIONS
from tests.e2e.helpers import inline_params, open_doc
from tests.fake_openai import FakeOpenAI
from tests.support import stats, stats_where, wait_until

FIRST_TOKEN_MS = 800
TOTAL_MS = 1500

CASES = [
    ("http500", "HTTP 500"),
    ("non_json", "malformed event"),
    ("truncated", "ended before the answer was complete"),
    ("wrong_type", "content type"),
    ("bad_json", "malformed JSON answer"),
    ("long_line", "event line longer"),
    ("silent", "first token"),
    ("endless", "timed out"),
]


@pytest.fixture(scope="module")
async def garbage_server(ready):
    async with FakeOpenAI() as server:
        profile = {
            "backend": "openai",
            "url": server.url,
            "model": "m",
            "retries": 0,
            "breaker_failures": 100,
        }
        role = {"profile": "bad", "first_token_timeout_ms": FIRST_TOKEN_MS, "timeout_ms": TOTAL_MS}
        settings = {**INIT_OPTIONS, "profiles": {"bad": profile}, "roles": {"completion": role}}
        ready.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
        uses_bad = stats_where(ready, lambda s: s["roles"]["completion"]["profile"] == "bad")
        await wait_until(uses_bad, 10, "the completion role on the profile bad")
        yield server
        ready.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=INIT_OPTIONS))
        bad_gone = stats_where(ready, lambda s: "bad" not in s["backends"])
        await wait_until(bad_gone, 10, "the profile bad gone")


@pytest.mark.parametrize("mode, reason", CASES)
async def test_garbage_ends_empty_within_the_timeout(ready, garbage_server, mode, reason):
    garbage_server.mode = mode
    uri = open_doc(ready, "def total(items):\n    return \n")
    before = (await stats(ready))["backends"]["bad"]
    started = time.perf_counter()
    answer = await ready.text_document_inline_completion_async(inline_params(uri, 1, 11))
    elapsed_ms = (time.perf_counter() - started) * 1000
    after = await stats(ready)
    assert not answer.items
    assert elapsed_ms < TOTAL_MS + 1000
    assert after["backends"]["bad"]["failures"] == before["failures"] + 1  # the breaker counted it
    assert reason in after["backends"]["bad"]["last_error"]
    assert after["last_request"]["outcome"] == "error"


async def test_the_same_server_answers_well_again(ready, garbage_server):
    garbage_server.mode = "ok"
    garbage_server.pieces = ("sum(", "items)")  # valid code: the syntax check keeps it
    uri = open_doc(ready, "def total(items):\n    return \n")
    answer = await ready.text_document_inline_completion_async(inline_params(uri, 1, 11))
    assert answer.items[0].insert_text == "sum(items)"
