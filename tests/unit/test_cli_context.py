"""``aicockpit context`` and ``aicockpit index`` as a user runs them (in process)."""

from __future__ import annotations

import json

import pytest

from aicockpit.cli import main
from tests.support import ROOT, tiny_model

PYTHON = ROOT / "fixtures" / "workspaces" / "python"
APP = PYTHON / "app.py"


def run(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    return exit_.value.code, capsys.readouterr().out


def test_context_shows_the_chosen_snippets_and_the_prompt(capsys):
    code, out = run(
        capsys, "context", str(APP), "--line", "12", "--col", "24", "--workspace", str(PYTHON),
        "--model", str(tiny_model()), "--no-cache", "--json",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert {"path", "start_line", "end_line", "reason", "tokens"} <= set(result["snippets"][0])
    assert any(s["reason"] == "definition of checkout" for s in result["snippets"])
    assert result["context_tokens"] <= 1024
    assert "<|fim_prefix|>" in result["prompt"] and "def checkout(cart: Cart)" in result["prompt"]


def test_context_batch_reads_json_lines_and_text_overrides(capsys, tmp_path):
    batch = tmp_path / "batch.jsonl"
    unsaved = "from shop.pricing import vat\n\nprint(vat(\n"
    batch.write_text(
        json.dumps({"path": str(PYTHON / "unsaved.py"), "line": 3, "col": 11, "text": unsaved})
        + "\n{not json\n"
        + json.dumps({"path": str(APP), "line": 1, "col": 1})
        + "\n",
        encoding="utf-8",
    )
    code, out = run(
        capsys, "context", "--batch", str(batch), "--workspace", str(PYTHON),
        "--model", str(tiny_model()), "--no-cache",
    )  # fmt: skip
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(results) == 3  # the bad line is reported, the others answered
    assert any(s["reason"] == "definition of vat" for s in results[0]["snippets"])
    assert "error" in results[1] and "snippets" in results[2]


def test_index_reports_files_definitions_time_and_memory(capsys, tmp_path):
    code, out = run(capsys, "index", str(PYTHON), "--json", "--cache-dir", str(tmp_path))
    report = json.loads(out)
    assert code == 0 and report["files"] >= 5 and report["definitions"] > 10
    assert report["seconds"] >= 0 and report["peak_rss_mb"] > 0 and report["cache"].startswith(str(tmp_path))
    code, out = run(capsys, "index", str(PYTHON), "--json", "--cache-dir", str(tmp_path))
    assert json.loads(out)["parsed"] == 0  # the second run reads the cache
