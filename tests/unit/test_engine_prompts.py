"""The embedded engine's prompt rendering: chat messages through the model's chat template."""

import os

from aicockpit.config import EngineConfig
from aicockpit.engine.base import ChatMessage, GenerationRequest
from aicockpit.engine.vllm_local import VllmEngine, prepare_environment
from tests.support import tiny_model


class FakeLLM:
    """Just the tokenizer of the real tiny model; nothing is generated here."""

    def __init__(self):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(tiny_model()), local_files_only=True)

    def get_tokenizer(self):
        return self.tokenizer


def test_chat_messages_use_the_chat_template():
    engine = VllmEngine(FakeLLM(), EngineConfig(model="tiny"))
    request = GenerationRequest(
        "r", "ignored", 8, messages=(ChatMessage("system", "Be brief."), {"role": "user", "content": "hi"})
    )
    assert engine.render(request) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_fim_parts_use_the_models_own_layout_and_plain_prompts_pass_through():
    engine = VllmEngine(FakeLLM(), EngineConfig(model="tiny"))
    fim = GenerationRequest("r", "<PRE> a <SUF>b <MID>", 8, fim=("a", "b"))
    assert engine.render(fim) == "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>"
    assert engine.render(GenerationRequest("r", "plain text", 8)) == "plain text"


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
