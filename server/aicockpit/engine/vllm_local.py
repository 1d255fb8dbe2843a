"""The embedded engine: one vLLM ``AsyncLLM`` inside the server process.

``running_vllm`` owns the engine: it is built on entry and always shut down on
exit, the way vLLM's own OpenAI server owns its engine.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from aicockpit.config import EngineConfig
from aicockpit.engine.base import BackendError, EngineUnavailable, GenerationDelta, GenerationRequest
from aicockpit.engine.openai_remote import message_dicts
from aicockpit.engine.processes import kill_trees
from aicockpit.engine.tokenizer import ModelTokenizer
from aicockpit.prompt.fim import FimTemplate, detect_template

log = logging.getLogger(__name__)

CPU_BLOCK_SIZE = 32  # CPU attention wants multiples of 32; its default (128) caches nothing under 128 tokens
# What the user started the server with: their settings win over every profile's.
USER_ENVIRONMENT = frozenset(os.environ)
# The environment is process-wide and vLLM reads it while it builds: one build at a time.
_BUILDING = threading.Lock()


def has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()


def prepare_environment(
    config: EngineConfig, accelerator: bool, user_set: frozenset[str] = USER_ENVIRONMENT
) -> None:
    """vLLM reads these from the environment: this profile's values, unless the user set them.

    Set, not defaulted: a second embedded profile must not inherit the first one's
    KV cache size or engine process setting.
    """
    defaults = {
        # stdout is the LSP channel: vLLM's logs must never land there.
        "VLLM_LOGGING_STREAM": "ext://sys.stderr",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        # The engine core is killed, not asked to stop (engine/processes.py): the
        # semaphores and shared memory it leaves are freed by multiprocessing's
        # resource tracker, a child that inherits this, and reported as leaks on stderr.
        "PYTHONWARNINGS": "ignore:resource_tracker:UserWarning",
    }
    if not accelerator:
        defaults["VLLM_CPU_KVCACHE_SPACE"] = str(config.cpu_kv_cache_gib)
    defaults["VLLM_ENABLE_V1_MULTIPROCESSING"] = "1" if config.multiprocessing else "0"
    if Path(config.model).is_dir():
        defaults["HF_HUB_OFFLINE"] = "1"  # a local model needs no hub; offline users have none
    for key, value in defaults.items():
        if key not in user_set:
            os.environ[key] = value


def engine_args(config: EngineConfig, accelerator: bool) -> Any:
    from vllm.engine.arg_utils import AsyncEngineArgs

    block_size = config.block_size or (None if accelerator else CPU_BLOCK_SIZE)
    return AsyncEngineArgs(
        model=config.model,
        tokenizer=config.tokenizer,
        dtype=config.dtype,
        max_model_len=config.max_model_len,
        gpu_memory_utilization=config.gpu_memory_utilization,
        tensor_parallel_size=config.tensor_parallel_size,
        quantization=config.quantization,
        enforce_eager=config.enforce_eager,
        max_num_seqs=config.max_num_seqs,
        block_size=block_size,
        enable_prefix_caching=True,
        scheduling_policy="priority",
        disable_log_stats=True,
    )


def stop_vllm(llm: Any, processes: Sequence[BaseProcess]) -> None:
    """Shut an ``AsyncLLM`` down with no grace period (engine/processes.py says why), and reap its processes.

    vLLM's own grace period held ``shutdown``, and the event loop, for ~3.5 s.
    """
    log.info("shutting down the vLLM engine")
    if (handler := getattr(llm, "output_handler", None)) is not None:
        from vllm.utils.async_utils import cancel_task_threadsafe

        # First, so that it never reads the dead engine core: it would log a traceback.
        cancel_task_threadsafe(handler)
    vllm_log = logging.getLogger("vllm")
    level = vllm_log.level
    vllm_log.setLevel(logging.ERROR)  # its force-kill warnings describe what was asked for
    try:
        llm.shutdown(timeout=0)  # closes its sockets, then SIGTERM and SIGKILL at once
    finally:
        vllm_log.setLevel(level)
    # AsyncLLM.__del__ shuts down again, possibly at interpreter teardown when
    # vLLM's module globals are gone (a noisy TypeError): once is enough.
    llm.shutdown = lambda *args, **kwargs: None
    kill_trees(processes)  # and reaped: a next engine finds their memory free


class VllmEngine:
    """Streams generations from an ``AsyncLLM``; one engine request per call."""

    def __init__(self, llm: Any, config: EngineConfig, processes: Sequence[BaseProcess] = ()) -> None:
        self._llm = llm
        self._processes = processes  # the engine core (and workers) this engine started
        self.model_name = config.model
        self._hf_tokenizer = llm.get_tokenizer()
        self.tokenizer = ModelTokenizer(self._hf_tokenizer)
        try:
            self.fim_template: FimTemplate | None = detect_template(
                self.tokenizer.special_tokens(), config.fim_template
            )
        except ValueError:  # not a FIM model (a chat-only profile): FIM prompts pass through
            self.fim_template = None

    def render(self, request: GenerationRequest) -> str:
        """The prompt text: chat messages through the model's chat template, FIM in its own layout."""
        if request.messages is not None:
            return self._hf_tokenizer.apply_chat_template(
                message_dicts(request.messages), tokenize=False, add_generation_prompt=True
            )
        if request.fim is not None and self.fim_template is not None:
            return self.fim_template.render(*request.fim)
        return request.prompt

    def shutdown(self) -> None:
        """Stop the engine core at once (idempotent; safe from any thread)."""
        if self._llm is not None:
            llm, self._llm = self._llm, None
            stop_vllm(llm, self._processes)

    def unfinished_requests(self) -> int:
        return self._llm.get_num_unfinished_requests() if self._llm is not None else 0

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationDelta]:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        params = SamplingParams(
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop=list(request.stop),
            output_kind=RequestOutputKind.DELTA,
            skip_special_tokens=True,
        )
        prompt_tokens = cached = generated = 0
        llm = self._llm
        if llm is None:
            raise EngineUnavailable("the engine has stopped")
        # vLLM aborts the request when this generator is closed or cancelled,
        # which is how $/cancelRequest reaches the engine.
        prompt = self.render(request)
        outputs = llm.generate(prompt, params, request.request_id, priority=int(request.priority))
        while True:
            try:
                output = await anext(outputs)
            except StopAsyncIteration:
                return
            except Exception as err:
                if self._llm is not None:
                    raise  # the engine failed on its own: a bug or a crash, with its traceback
                # Stopped under this request (shutdown, a profile switch): vLLM marks the
                # engine dead, and the request fails as any backend's would.
                raise BackendError(f"the engine stopped ({type(err).__name__})", retryable=False) from None
            prompt_tokens = max(prompt_tokens, len(output.prompt_token_ids or ()))
            cached = max(cached, output.num_cached_tokens or 0)
            piece = output.outputs[0] if output.outputs else None
            generated += len(piece.token_ids) if piece else 0
            yield GenerationDelta(
                text=piece.text if piece else "",
                finished=output.finished,
                finish_reason=piece.finish_reason if piece else None,
                stop_reason=piece.stop_reason if piece else None,
                prompt_tokens=prompt_tokens,
                cached_tokens=cached,
                generated_tokens=generated,
            )


@asynccontextmanager
async def running_vllm(config: EngineConfig) -> AsyncIterator[VllmEngine]:
    """Build the engine (in a thread, so the server keeps answering) and shut it down."""
    accelerator = has_accelerator()
    abandoned = threading.Event()

    def build() -> tuple[Any, list[BaseProcess]]:
        with _BUILDING:
            prepare_environment(config, accelerator)  # before vLLM's import: it sets up its logging then
            from vllm.v1.engine.async_llm import AsyncLLM

            before = set(multiprocessing.active_children())
            llm = AsyncLLM.from_engine_args(engine_args(config, accelerator))
            # Builds take turns, so the processes started meanwhile are this engine's.
            processes = [p for p in multiprocessing.active_children() if p not in before]
        if abandoned.is_set():  # the server stopped while we loaded: leave no engine behind
            stop_vllm(llm, processes)
            return llm, processes
        # vLLM, torch and transformers leave millions of long-lived objects. A full
        # garbage collection walks them all, holding the GIL and so the server's
        # event loop: 150-390 ms each here. Loading runs several; in a long session
        # one comes whenever enough new objects have survived. Frozen, the
        # collector skips them; the garbage of loading goes first.
        gc.collect()
        gc.freeze()
        return llm, processes

    try:
        llm, processes = await asyncio.to_thread(build)
        engine = VllmEngine(llm, config, processes)
    except asyncio.CancelledError:
        abandoned.set()
        raise
    try:
        yield engine
    finally:
        engine.shutdown()
        gc.unfreeze()  # this engine's objects may be collected again
