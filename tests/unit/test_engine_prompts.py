"""The embedded engine's side of prompts: what it takes, and the chat prompts built for it."""

import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

from aicockpit.config import EngineConfig, ProfileConfig
from aicockpit.engine import processes
from aicockpit.engine.openai_remote import OpenAIRemoteEngine
from aicockpit.engine.vllm_local import VllmEngine, prepare_environment
from aicockpit.generation import ChatMessage
from aicockpit.prompt.requests import chat_request
from tests.support import tiny_model


class FakeLLM:
    """Just the tokenizer of the real tiny model; nothing is generated here."""

    def __init__(self):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(tiny_model()), local_files_only=True)
        self.model_config = SimpleNamespace(max_model_len=2048)

    def get_tokenizer(self):
        return self.tokenizer


def test_chat_requests_for_the_embedded_engine_carry_the_conversation_in_its_chat_template():
    engine = VllmEngine(FakeLLM(), EngineConfig(model="tiny", max_model_len=9999))
    assert engine.prompt_format.context_length == 2048  # what vLLM runs with, not the configured 9999
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    request = chat_request(engine, messages, request_id="r", max_tokens=8)
    assert request.prompt == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert request.messages == (ChatMessage("system", "Be brief."), ChatMessage("user", "hi"))


def test_a_chat_api_gets_the_messages_alone_and_a_fallback_gets_its_own_rendering():
    remote = OpenAIRemoteEngine(ProfileConfig(backend="openai", model="m"))
    embedded = VllmEngine(FakeLLM(), EngineConfig(model="tiny"))
    request = chat_request(remote, [{"role": "user", "content": "hi"}], request_id="r", max_tokens=8)
    assert request.prompt == "" and request.fits(remote) and not request.fits(embedded)
    rebuilt = request.builder.build(embedded)
    assert rebuilt.prompt.endswith("<|im_start|>assistant\n") and rebuilt.fits(embedded)


def test_each_embedded_profile_sets_its_own_environment_and_the_users_own_wins(monkeypatch):
    # A stand-in environment: what prepare_environment sets must not reach servers later tests start.
    monkeypatch.setattr(os, "environ", {})
    prepare_environment(
        EngineConfig(cpu_kv_cache_gib=1, multiprocessing=True), accelerator=False, user_set=frozenset()
    )
    assert os.environ["VLLM_CPU_KVCACHE_SPACE"] == "1" and os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "1"
    # A second profile gets its own values, not the first one's.
    second = EngineConfig(cpu_kv_cache_gib=3, multiprocessing=False)
    prepare_environment(second, accelerator=False, user_set=frozenset())
    assert os.environ["VLLM_CPU_KVCACHE_SPACE"] == "3" and os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    # What the user started the server with is never overwritten.
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "8")
    prepare_environment(second, accelerator=False, user_set=frozenset({"VLLM_CPU_KVCACHE_SPACE"}))
    assert os.environ["VLLM_CPU_KVCACHE_SPACE"] == "8"


def test_vllms_sockets_go_in_a_directory_of_the_servers_own_when_the_path_allows(monkeypatch):
    base = tempfile.mkdtemp(prefix="sockets-", dir="/tmp")  # a short temp dir, as most are
    monkeypatch.setattr(processes, "_ipc_directory", None)
    monkeypatch.setattr(tempfile, "tempdir", base)
    try:
        sockets = processes.ipc_directory()
        assert sockets is not None and Path(sockets).parent == Path(base)
        assert len(sockets) + 1 + 36 <= 107  # a uuid4 socket name inside still fits sockaddr_un
        processes.remove_ipc_directory()
        assert not Path(sockets).exists()
    finally:
        os.rmdir(base)
    # A temp directory too deep for one more level: vLLM's default place (still a valid path).
    monkeypatch.setattr(processes, "_ipc_directory", None)
    monkeypatch.setattr(tempfile, "tempdir", "/" + "d" * 60)
    assert processes.ipc_directory() is None


def test_a_next_edit_request_falls_back_with_a_prompt_of_the_fallbacks_own():
    from aicockpit.prompt.next_edit import REGION_END, EditWindow, NextEditRequest

    window = EditWindow("a.py", "", "def f(x):\n    return x\n", 0, "", True, 0)
    builder = NextEditRequest("auto", (), window, "n1", 256, 256, 0.0)
    remote = OpenAIRemoteEngine(ProfileConfig(backend="openai", model="m"))
    request = builder.build(remote)
    assert request.messages and request.prompt == "" and REGION_END in request.stop
    embedded = VllmEngine(FakeLLM(), EngineConfig(model="zeta-tiny"))  # a Zeta model: its own layout
    rebuilt = request.builder.build(embedded)
    assert rebuilt.messages is None and "### User Excerpt:" in rebuilt.prompt and rebuilt.fits(embedded)
