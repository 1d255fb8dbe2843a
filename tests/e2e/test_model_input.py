"""What the model receives: asserted where it leaves the server, never on aicockpit's own account.

A real ``aicockpit serve`` whose roles all point at a recording OpenAI-compatible
server (tests/fake_openai.py keeps every request body): ghost text, the
``suffix``-field mode, an edit and a chat with an ``@`` mention, each checked in
the body that arrived. The same prompt must come out of ``aicockpit/context``
and the ``aicockpit context`` command, byte for byte. For the embedded engine,
tests/e2e/test_inline_completion.py checks the prompt vLLM itself tokenized.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from lsprotocol import types

from aicockpit.config import ROLES
from tests.e2e.editor import Editor
from tests.e2e.helpers import request, start_server
from tests.fake_openai import FakeOpenAI
from tests.support import RUN_DIR, server_env, stats_where, tiny_model, wait_until

PRICING = '''"""Prices and discounts."""


def apply_discount(amount: int, percent: int) -> int:
    """The amount less ``percent`` per cent, rounded down."""
    return amount - amount * percent // 100


def vat(amount: int) -> int:
    return round(amount * 0.19)
'''
CART = """from shop.pricing import apply_discount, vat


class Cart:
    def __init__(self) -> None:
        self.items: list[int] = []

    def total(self, percent: int) -> int:
        net = apply_discount(
        return net + vat(net)
"""
CALL_ROW = CART.split("\n").index("        net = apply_discount(")
CALL_COL = len("        net = apply_discount(")
SECRET = "API_KEY=never-send-this"


def workspace():
    root = RUN_DIR / "model-input" / "shopfront"
    if not root.exists():
        (root / "shop").mkdir(parents=True)
        (root / ".git").mkdir()
        (root / "shop" / "__init__.py").write_text("")
        (root / "shop" / "pricing.py").write_text(PRICING)
        (root / "shop" / "cart.py").write_text(CART)
        (root / ".env").write_text(SECRET + "\n")
    return root


def options(url: str, **profile) -> dict:
    recorder = {"backend": "openai", "url": url, "model": "m", "tokenizer": str(tiny_model()), **profile}
    return {
        "profiles": {"recorder": recorder},
        "roles": {role: {"profile": "recorder"} for role in ROLES},
        "completion": {"max_tokens": 16, "debounce_min_ms": 0, "debounce_max_ms": 0},
    }


@pytest.fixture(scope="module")
async def recorder():
    async with FakeOpenAI(pieces=("value", ", 10)")) as server:
        yield server


@pytest.fixture(scope="module")
async def remote(recorder):
    """A server with no embedded engine: every role goes to the recorder."""
    root = workspace()
    client = await start_server(root, options(recorder.url), profile="recorder")
    editor = Editor(client)
    editor.open((root / "shop" / "cart.py").as_uri(), CART)
    editor.open((root / ".env").as_uri(), SECRET + "\n", language="dotenv")  # open, yet never sent
    yield client, editor, root
    await client.shutdown_session()
    await client.stop()


call = request


async def reconfigure(client, settings: dict) -> None:
    """New settings, and the recorder profile ready again (a changed profile is built anew)."""
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
    # Requests are answered in order: the settings apply first.
    rebuilt = stats_where(client, lambda s: s["backends"]["recorder"]["state"] == "ready")
    await wait_until(rebuilt, 60, "the recorder profile ready")


async def completion_body(client, recorder, uri: str) -> dict:
    before = len(recorder.seen)
    await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=CALL_ROW, character=CALL_COL),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
    bodies = [s.body for s in recorder.seen[before:] if s.path.endswith("/completions")]
    assert bodies, "the completion never reached the model"
    return bodies[-1]


def assert_in_order(text: str, parts: list[str]) -> None:
    positions = [text.find(part) for part in parts]
    assert -1 not in positions, [p for p, at in zip(parts, positions, strict=True) if at < 0]
    assert positions == sorted(positions), list(zip(parts, positions, strict=True))


async def test_ghost_text_carries_the_cross_file_definition_in_the_repository_layout(remote, recorder):
    client, _, root = remote
    uri = (root / "shop" / "cart.py").as_uri()
    body = await completion_body(client, recorder, uri)
    prompt = body["prompt"]
    assert "suffix" not in body
    assert_in_order(
        prompt,
        [
            "<|repo_name|>shopfront\n",
            "<|file_sep|>shop/pricing.py\ndef apply_discount(amount: int, percent: int) -> int:",
            "<|file_sep|>shop/cart.py\n<|fim_prefix|>from shop.pricing import apply_discount, vat\n",
            "        net = apply_discount(<|fim_suffix|>\n        return net + vat(net)\n",
            "<|fim_middle|>",
        ],
    )
    assert SECRET not in json.dumps(body)
    # What the editor and the command line say would be sent is what was sent, byte for byte.
    position = {"line": CALL_ROW, "character": CALL_COL}
    shown = await call(client, "aicockpit/context", {"textDocument": {"uri": uri}, "position": position})
    assert shown["prompt"] == prompt and shown["suffix"] is None and shown["backend"] == "recorder"
    assert shown["stop"] == body["stop"]
    command = subprocess.run(
        [sys.executable, "-m", "aicockpit", "context", str(root / "shop" / "cart.py")]
        + ["--line", str(CALL_ROW + 1), "--col", str(CALL_COL + 1), "--workspace", str(root)]
        + ["--no-cache", "--json", "--options", json.dumps(options(recorder.url))],
        capture_output=True,
        text=True,
        env=server_env(),
        timeout=120,
    )
    assert command.returncode == 0, command.stderr
    assert json.loads(command.stdout)["prompt"] == prompt


async def test_the_suffix_field_mode_puts_the_context_in_the_prompt_field(remote, recorder):
    client, _, root = remote
    await reconfigure(client, options(recorder.url, fim_mode="suffix"))
    try:
        body = await completion_body(client, recorder, (root / "shop" / "cart.py").as_uri())
    finally:
        await reconfigure(client, options(recorder.url))
    prompt = body["prompt"]
    # The server wraps prompt and suffix in its own FIM template: path comments, no tokens of ours.
    assert "<|" not in prompt
    assert_in_order(
        prompt,
        [
            "# shop/pricing.py\ndef apply_discount(amount: int, percent: int) -> int:",
            "# shop/cart.py\nfrom shop.pricing import apply_discount, vat\n",
        ],
    )
    assert prompt.endswith("        net = apply_discount(")
    assert body["suffix"].startswith("\n        return net + vat(net)\n")
    assert len(body["stop"]) <= 4


async def test_an_edit_sends_the_selection_the_instruction_and_the_definitions_it_uses(remote, recorder):
    client, editor, root = remote
    uri = (root / "shop" / "cart.py").as_uri()
    recorder.pieces = ("```python\n        net = apply_discount(10, percent)\n```",)
    before = len(recorder.seen)
    try:
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="aicockpit.previewEdit",
                arguments=[
                    {
                        "uri": uri,
                        "range": {
                            "start": {"line": CALL_ROW - 1, "character": 0},
                            "end": {"line": CALL_ROW + 2, "character": 0},
                        },
                        "instruction": "give the discount a default of ten per cent",
                        "version": editor.versions[uri],
                    }
                ],
            )
        )
    finally:
        recorder.pieces = ("value", ", 10)")
    (seen,) = [s for s in recorder.seen[before:] if s.path.endswith("/chat/completions")]
    text = "\n".join(m["content"] for m in seen.body["messages"])
    assert "def total(self, percent: int) -> int:" in text  # the selection
    assert "give the discount a default of ten per cent" in text  # the instruction
    assert "def apply_discount(amount: int, percent: int) -> int:" in text  # retrieved from pricing.py
    assert SECRET not in text


async def test_a_chat_sends_the_mentioned_file_and_the_session_history(remote, recorder):
    client, _, _ = remote
    first = await call(client, "aicockpit/chat", {"message": "What does @shop/pricing.py do?"})
    second = await call(
        client, "aicockpit/chat", {"message": "And what about @.env?", "session": first["session"]}
    )
    bodies = [s.body for s in recorder.seen if s.path.endswith("/chat/completions")]
    messages = bodies[-1]["messages"]
    contents = [m["content"] for m in messages]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert contents[1] == "What does @shop/pricing.py do?" and contents[2] == first["reply"]
    assert contents[3] == "And what about @.env?"
    assert "def apply_discount(amount: int, percent: int) -> int:" in contents[0]  # the @file's code
    assert any(".env" in n and "secrets" in n for n in second["notices"])
    assert SECRET not in json.dumps(bodies)


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    shutil.rmtree(RUN_DIR / "model-input", ignore_errors=True)


# -- the embedded engine: the prompt as vLLM tokenized it ---------------------------------


@pytest.fixture
async def recording_prompts(ready):
    from tests.conftest import INIT_OPTIONS

    settings = {**INIT_OPTIONS, "logging": {"prompts": True}}
    ready.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))

    async def recording() -> bool:
        return (await call(ready, "aicockpit/prompts", None))["enabled"]

    await wait_until(recording, 10, "aicockpit/prompts to be recording")
    try:
        yield ready
    finally:
        ready.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=INIT_OPTIONS))


async def test_vllm_processes_the_prompt_with_the_repository_context(recording_prompts):
    from tests.support import scratch_workspace

    client = recording_prompts
    checkout = scratch_workspace() / "shop" / "checkout.py"
    text = checkout.read_text()
    uri = checkout.as_uri()
    Editor(client).open(uri, text)
    row = text.split("\n").index("        total = ")
    await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=row, character=len("        total = ")),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
    entries = (await call(client, "aicockpit/prompts", None))["prompts"]
    entry = next(e for e in reversed(entries) if e["role"] == "completion" and e["processed"])
    processed = entry["processed"]  # vLLM's own prompt token ids, decoded
    assert processed == entry["prompt"]
    # Other tests add workspace folders to this server: paths then start with the folder's name.
    folder = "workspace/" if "<|file_sep|>workspace/shop/" in processed else ""
    assert_in_order(
        processed,
        [
            "<|repo_name|>workspace\n",
            f"<|file_sep|>{folder}shop/pricing.py\ndef lines_total(",
            f"<|file_sep|>{folder}shop/checkout.py\n<|fim_prefix|>",
            "        amount = lines_total(self.lines)\n        total = <|fim_suffix|>",
            "<|fim_middle|>",
        ],
    )
    assert "do-not-send" not in processed  # the workspace's .env

    reply = await call(client, "aicockpit/chat", {"message": "Explain @shop/pricing.py briefly."})
    assert reply["session"]
    entries = (await call(client, "aicockpit/prompts", None))["prompts"]
    chat = next(e for e in reversed(entries) if e["role"] == "chat")
    assert chat["processed"] == chat["prompt"]
    assert_in_order(chat["processed"], ["<|im_start|>system\n", "def lines_total(", "<|im_start|>user\n"])
    assert chat["processed"].endswith("Explain @shop/pricing.py briefly.<|im_end|>\n<|im_start|>assistant\n")
