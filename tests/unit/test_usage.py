import datetime as dt
import json
import subprocess
import sys

from aicockpit.usage import UsageStore, format_table
from tests.support import ROOT


async def test_sums_per_day_role_profile_and_model(tmp_path):
    store = UsageStore(tmp_path / "u.sqlite3")
    today = dt.date.today()
    store.record("completion", "default", "tiny", prompt_tokens=10, cached_tokens=4, completion_tokens=3)
    store.record("completion", "default", "tiny", prompt_tokens=5, completion_tokens=2, failed=True)
    store.record("chat", "big", "qwen-7b", prompt_tokens=100, completion_tokens=50)
    store.record("chat", "big", "qwen-7b", prompt_tokens=1, day=today - dt.timedelta(days=3))
    report = await store.report()
    first = report["rows"][0]
    assert first["day"] == today.isoformat() and first["role"] == "chat"
    completion = next(r for r in report["rows"] if r["role"] == "completion")
    assert (completion["requests"], completion["failed"], completion["prompt_tokens"]) == (2, 1, 15)
    assert (completion["cached_tokens"], completion["completion_tokens"]) == (4, 5)
    chat_total = next(t for t in report["totals"] if t["role"] == "chat")
    assert chat_total["requests"] == 2 and chat_total["prompt_tokens"] == 101
    assert len((await store.report(days=1))["rows"]) == 2
    assert [r["role"] for r in (await store.report(role="completion"))["rows"]] == ["completion"]
    assert "qwen-7b" in format_table(report)


async def test_an_unwritable_store_never_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = UsageStore(blocker / "sub" / "u.sqlite3")
    store.record("chat", "p", "m", prompt_tokens=1)  # logged, not raised
    assert (await store.report())["rows"] == []


async def test_rows_queued_together_are_written_in_one_transaction(tmp_path):
    store = UsageStore(tmp_path / "u.sqlite3")
    for _ in range(50):  # one loop turn: the database thread takes them as one batch (or a few)
        store.record("completion", "default", "tiny", prompt_tokens=1)
    report = await store.report()
    assert report["rows"][0]["requests"] == 50 and store.batches < 50
    store.close(wait=True)


def test_cli_prints_usage(tmp_path):
    store = UsageStore(tmp_path / "usage.sqlite3")
    store.record("edit", "default", "tiny", prompt_tokens=9)
    store.close(wait=True)  # the queued row written before another process reads
    env = {"AICOCKPIT_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT / "server"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-m", "aicockpit", "usage", "--json"], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["rows"][0]["role"] == "edit" and report["rows"][0]["prompt_tokens"] == 9
    table = subprocess.run(
        [sys.executable, "-m", "aicockpit", "usage", "--days", "7"], capture_output=True, text=True, env=env
    )
    assert "edit" in table.stdout and "prompt_tokens" in table.stdout
