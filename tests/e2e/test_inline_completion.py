"""Ghost text over LSP: textDocument/inlineCompletion and the completion fallback."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcMethodNotFound, JsonRpcRequestCancelled

from tests.client import send_raw, to_json
from tests.conftest import INIT_OPTIONS
from tests.e2e.helpers import CHECKOUT, change, completion_params, inline_params, open_doc, utf16
from tests.support import ABORT_ALLOWED_S, engine_idle, plain, stats, stats_where, wait_until

UNICODE_LINE = '    label = "Grüße 🍵 aus Köln " + '
TEXT = CHECKOUT.read_text(encoding="utf-8").replace(
    "        total = \n", f"{UNICODE_LINE}\n        total = \n"
)
UNICODE_ROW = TEXT.split("\n").index(UNICODE_LINE)


async def test_initialize_advertises_ghost_text_and_incremental_sync(client):
    caps = client.initialize_result.capabilities
    assert caps.inline_completion_provider is not None
    # This client declares inline completion: the completion-item fallback (for Neovim
    # 0.11 and Helix, test_editor_status.py) would show each suggestion a second time.
    assert caps.completion_provider is None
    sync = caps.text_document_sync
    assert sync.change == types.TextDocumentSyncKind.Incremental
    assert caps.position_encoding in (None, types.PositionEncodingKind.Utf16)


async def test_engine_start_is_reported_as_work_done_progress(ready):
    reports = [r for rs in ready.progress_reports.values() for r in rs]
    kinds = [r.kind for r in reports]
    assert kinds[0] == "begin" and "end" in kinds, kinds
    assert "report" in kinds  # loading takes seconds here; the user sees it go on
    assert "loading" in reports[0].message


async def test_inline_completion_range_sits_at_the_utf16_cursor_after_non_ascii(ready):
    uri = open_doc(ready, TEXT)
    column = utf16(UNICODE_LINE)
    assert column == len(UNICODE_LINE) + 1  # the emoji is a surrogate pair
    result = await ready.text_document_inline_completion_async(inline_params(uri, UNICODE_ROW, column))
    assert len(result.items) == 1
    item = result.items[0]
    assert item.insert_text.strip()
    assert item.range.start == types.Position(line=UNICODE_ROW, character=column)
    assert item.range.end == item.range.start


async def test_completion_fallback_returns_the_inline_suggestion(ready):
    uri = open_doc(ready, TEXT)
    row, column = UNICODE_ROW + 1, utf16("        total = ")
    await ready.text_document_inline_completion_async(inline_params(uri, row, column))  # warm the cache
    items = (await ready.text_document_completion_async(completion_params(uri, row, column))).items
    inline = await ready.text_document_inline_completion_async(inline_params(uri, row, column))
    assert len(items) == 1 and len(inline.items) == 1
    assert items[0].text_edit.new_text == inline.items[0].insert_text
    assert items[0].text_edit.range.start == types.Position(line=row, character=column)
    assert items[0].documentation.kind == types.MarkupKind.Markdown


async def test_incremental_changes_after_a_surrogate_pair_land_where_the_editor_put_them(ready):
    uri = open_doc(ready, TEXT)
    column = utf16(UNICODE_LINE)
    # Type "tot" after the emoji line's end, one keystroke at a time, then delete one char.
    for i, ch in enumerate("totx"):
        change(ready, uri, 2 + i, (UNICODE_ROW, column + i), (UNICODE_ROW, column + i), ch)
    change(ready, uri, 6, (UNICODE_ROW, column + 3), (UNICODE_ROW, column + 4), "")
    result = await ready.text_document_completion_async(completion_params(uri, UNICODE_ROW, column + 3))
    assert len(result.items) == 1
    # The server's copy ends with the word the user typed: the filter text starts with it.
    assert result.items[0].filter_text.startswith("tot")
    assert result.items[0].text_edit.range.start.character == column + 3


async def test_a_second_request_reuses_the_cached_prefix(ready):
    uri = open_doc(ready, TEXT)
    row = UNICODE_ROW + 1
    await ready.text_document_inline_completion_async(inline_params(uri, row, utf16("        total = ")))
    change(ready, uri, 2, (row, 16), (row, 16), "amount")
    await ready.text_document_inline_completion_async(inline_params(uri, row, 22))
    last = (await stats(ready))["last_request"]
    assert last["prompt_tokens"] > 0
    assert last["cached_tokens"] > 0, last
    assert (await stats(ready))["prefix_cache_hit_ratio"] > 0


async def test_cancel_aborts_the_request_inside_the_engine(ready):
    ready.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={
                **INIT_OPTIONS,
                "completion": {"max_tokens": 1000, "multiline": "always", "timeout_ms": 60000},
            }
        )
    )
    try:
        # The noise model sometimes loops, and the server then stops generating
        # early (correctly): a cancel that arrives after that has nothing to
        # cancel. Such a try is repeated with another prompt; three in a row fail.
        for attempt in range(3):
            uri = open_doc(ready, f"# try {attempt}\n" + TEXT)
            params = to_json(inline_params(uri, UNICODE_ROW + 2, 16))
            msg_id = f"cancel-me-{attempt}"
            pending = send_raw(ready, types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id)

            def generating_or_answered(s, pending=pending) -> bool:
                return s["engine"]["unfinished_requests"] > 0 or pending.done()

            started = stats_where(ready, generating_or_answered)
            await wait_until(started, 30, "the completion in the engine (or its answer)", 0.01)
            ready.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
            try:
                await asyncio.wait_for(pending, 30)
            except JsonRpcRequestCancelled:
                break
        else:
            pytest.fail("three completions in a row finished before their cancel arrived")
        # vLLM dropped it, not just the server.
        after = await wait_until(
            engine_idle(ready), ABORT_ALLOWED_S, "vLLM to drop the cancelled request", 0.02
        )
        assert after["outcomes"].get("cancelled", 0) >= 1
        assert after["last_request"]["generated_tokens"] < 1000
    finally:
        ready.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=INIT_OPTIONS))


async def test_unknown_document_gets_an_empty_result(ready):
    result = await ready.text_document_inline_completion_async(inline_params("file:///nowhere/x.py", 0, 0))
    assert list(result.items) == []
    items = (
        await ready.text_document_completion_async(completion_params("file:///nowhere/x.py", 0, 0))
    ).items
    assert list(items) == []


async def test_positions_past_the_end_are_clamped_or_empty(ready):
    uri = open_doc(ready, TEXT)
    beyond_file = await ready.text_document_inline_completion_async(inline_params(uri, 10_000, 0))
    assert list(beyond_file.items) == []
    beyond_line = await ready.text_document_inline_completion_async(inline_params(uri, UNICODE_ROW, 500))
    assert len(beyond_line.items) == 1
    assert beyond_line.items[0].range.start.character == utf16(UNICODE_LINE)


async def test_malformed_requests_get_an_error_response_and_the_server_goes_on(ready):
    uri = open_doc(ready, TEXT)
    bad_position = {
        "textDocument": {"uri": uri},
        "position": {"line": -1, "character": 0},
        "context": {"triggerKind": 1},
    }
    with pytest.raises(JsonRpcInvalidParams) as invalid:
        await asyncio.wait_for(send_raw(ready, types.TEXT_DOCUMENT_INLINE_COMPLETION, bad_position), 10)
    assert "$.params.position.line" in str(invalid.value)  # names what does not fit
    with pytest.raises(JsonRpcMethodNotFound):
        await asyncio.wait_for(send_raw(ready, "aicockpit/noSuchMethod", None), 10)
    still = await ready.text_document_inline_completion_async(inline_params(uri, UNICODE_ROW, 0))
    assert isinstance(still, types.InlineCompletionList)
    assert plain(await stats(ready))["engine"]["state"] == "ready"
