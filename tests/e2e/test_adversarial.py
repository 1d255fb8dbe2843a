"""Thousands of hostile LSP messages at a real server on the tiny model: no hang, no crash, no traceback.

Framing garbage, params of the wrong types, unknown methods, notifications with
ids, requests without, cancellations of unknown ids, documents changed before
they are opened, floods of changes and completions, more requests after
``shutdown`` (tests/hostile.py). Every request with a valid id must get exactly
one answer; a plain request after it all is answered promptly; ``exit`` ends the
process. scripts/adversarial.py runs the same for longer.
"""

from __future__ import annotations

from tests.hostile import adversarial_session
from tests.support import EXIT_ALLOWED_S

ITEMS = 1500  # ~6000 messages, ~2500 requests: a few seconds once the engine is ready


async def test_hostile_traffic_gets_every_answer_once_and_no_traceback(tmp_path):
    result = await adversarial_session(ITEMS, seed=14, log_path=tmp_path / "server.log", after_shutdown=150)
    before, after = result["report"], result["after_shutdown"]
    print(
        f"\n{before.messages} messages, {before.owed} requests owed an answer,"
        f" {before.answered_once} answered once in {before.seconds:.1f} s ({before.results} results,"
        f" {before.suggestions} with a suggestion, errors {before.errors});"
        f" after shutdown {after.answered_once}/{after.owed};"
        f" final request {before.final_answer_s:.2f} s; exit {result['exit_s']:.2f} s;"
        f" log: {result['warnings']} warnings, {result['errors']} errors, {result['tracebacks']} tracebacks;"
        f" server: {before.engine}"
    )
    for report in (before, after):
        assert not report.missing, f"{len(report.missing)} requests never answered: {report.missing[:10]}"
        assert not report.duplicated, f"answered more than once: {report.duplicated[:10]}"
        assert not report.dropped_but_answered, report.dropped_but_answered[:10]
        assert not report.unexpected, report.unexpected[:10]
    assert before.final_answer_s < 5  # not wedged: answered promptly after the flood
    assert result["tracebacks"] == 0 and result["errors"] == 0, tmp_path / "server.log"
    assert result["returncode"] == 0 and result["exit_s"] < EXIT_ALLOWED_S
