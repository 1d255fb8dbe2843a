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
import re
import signal
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import msgspec

from aicockpit.config import EngineConfig
from aicockpit.engine.base import BackendError, EngineSetupError, EngineUnavailable
from aicockpit.engine.model_source import check_model_source
from aicockpit.engine.processes import ipc_directory, kill_trees, lower_priority
from aicockpit.engine.tokenizer import LIBRARY_IMPORTS, ModelTokenizer, import_accelerate_whole
from aicockpit.generation import GenerationDelta, GenerationRequest, PromptFormat

log = logging.getLogger(__name__)

CPU_BLOCK_SIZE = 32  # CPU attention wants multiples of 32; its default (128) caches nothing under 128 tokens
# What the user started the server with: their settings win over every profile's.
USER_ENVIRONMENT = frozenset(os.environ)
# The environment is process-wide and vLLM reads it while it builds: one build at a time.
_BUILDING = threading.Lock()
# vLLM's refusal of a max_model_len longer than the model's own context (vllm/config/model.py).
_TOO_LONG = re.compile(
    r"User-specified max_model_len \((\d+)\) is greater than the derived max_model_len \(\w+=(\d+)"
)


def has_accelerator() -> bool:
    import torch

    return bool(torch.cuda.is_available())


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
    if (sockets := ipc_directory()) is not None:
        defaults["VLLM_RPC_BASE_PATH"] = sockets  # its sockets go when the server does
    if not accelerator:
        defaults["VLLM_CPU_KVCACHE_SPACE"] = str(config.cpu_kv_cache_gib)
    defaults["VLLM_ENABLE_V1_MULTIPROCESSING"] = "1" if config.multiprocessing else "0"
    if Path(config.model).is_dir():
        defaults["HF_HUB_OFFLINE"] = "1"  # a local model needs no hub; offline users have none
    for key, value in defaults.items():
        if key not in user_set:
            os.environ[key] = value


def cpu_computes_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); unknown counts as yes.

    Without it, torch emulates bfloat16 matmuls: ~10x slower than float32 on an
    AVX2 machine (a 800x576x1536 matmul: 207 vs 20 ms), so a bfloat16 model runs
    far faster in float32, at twice the weights' memory.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return True
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), None)
    if flags is None:  # not x86 Linux: leave the choice to vLLM
        return True
    present = set(flags.partition(":")[2].split())
    return bool(present & {"avx512_bf16", "amx_bf16"})


def engine_dtype(config: EngineConfig, accelerator: bool) -> str:
    """``engine.dtype``; "auto" on a CPU without bfloat16 arithmetic is float32."""
    if config.dtype != "auto" or accelerator or cpu_computes_bf16():
        return config.dtype
    log.info("this CPU has no bfloat16 arithmetic: the model runs in float32 (set engine.dtype to choose)")
    return "float32"


def engine_args(config: EngineConfig, accelerator: bool) -> Any:
    from vllm.engine.arg_utils import AsyncEngineArgs

    block_size = config.block_size or (None if accelerator else CPU_BLOCK_SIZE)
    return AsyncEngineArgs(
        model=config.model,
        tokenizer=config.tokenizer,
        dtype=engine_dtype(config, accelerator),
        max_model_len=config.max_model_len,
        gpu_memory_utilization=config.gpu_memory_utilization,
        tensor_parallel_size=config.tensor_parallel_size,
        quantization=config.quantization,
        enforce_eager=config.enforce_eager,
        max_num_seqs=config.max_num_seqs,
        block_size=block_size,
        enable_prefix_caching=config.prefix_caching,
        scheduling_policy="priority",
        disable_log_stats=True,
    )


def embedded_prompt_format(config: EngineConfig, context_length: int | None = None) -> PromptFormat:
    """What the embedded engine takes: text prompts, laid out for its tokenizer's template."""
    return PromptFormat(template=config.fim_template, context_length=context_length or config.max_model_len)


def stop_vllm(llm: Any, processes: Sequence[BaseProcess]) -> None:
    """Shut an ``AsyncLLM`` down with no grace period (engine/processes.py says why), and reap its processes.

    vLLM's own grace period held ``shutdown``, and the event loop, for ~3.5 s.
    """
    log.info("shutting down the vLLM engine")
    if (handler := getattr(llm, "output_handler", None)) is not None:
        from vllm.utils.async_utils import cancel_task_threadsafe

        # First, so that it never reads the dead engine core: it would log a traceback.
        cancel_task_threadsafe(handler)
    if (processor := getattr(llm, "output_processor", None)) is not None:
        from vllm.v1.engine.exceptions import EngineDeadError

        # Requests in flight would wait for outputs that no handler reads any more: end
        # them now, each answered as a failed request (VllmEngine.generate), not left hanging.
        processor.propagate_error(EngineDeadError())
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
    """Streams generations from an ``AsyncLLM``; one engine request per call.

    The prompt arrives finished (the prompt layer rendered FIM and chat prompts
    with this engine's tokenizer): it is sent as it is.
    """

    def __init__(self, llm: Any, config: EngineConfig, processes: Sequence[BaseProcess] = ()) -> None:
        self._llm = llm
        self._processes = processes  # the engine core (and workers) this engine started
        self._in_flight = 0
        # Since when requests have been waiting, without a break and with no output (None: none wait).
        self._waiting_since: float | None = None
        self._states = ProcessStates(processes)
        self._died = ""  # why, once the watchdog found it dead
        self.model_name = config.model
        self.tokenizer = ModelTokenizer(llm.get_tokenizer())
        # The length vLLM actually runs with (a model may allow less than configured).
        self.prompt_format = embedded_prompt_format(config, llm.model_config.max_model_len)

    def shutdown(self) -> None:
        """Stop the engine core at once (idempotent; safe from any thread)."""
        if self._llm is not None:
            llm, self._llm = self._llm, None
            stop_vllm(llm, self._processes)

    def unfinished_requests(self) -> int:
        return self._llm.get_num_unfinished_requests() if self._llm is not None else 0

    async def reset_prefix_cache(self) -> None:
        """Forget every cached prompt block (benchmarks: so that each variant starts cold)."""
        if self._llm is not None:
            await self._llm.reset_prefix_cache()

    def failure(self) -> str | None:
        """A dead engine core (killed, crashed) or an engine vLLM declared dead."""
        if self._llm is None:
            return self._died or None  # stopped: on purpose, unless found dead first
        for process in self._processes:
            if not process.is_alive():  # reaps it too: no zombie is left
                self._died = f"its engine core process ended ({_exit_description(process.exitcode)})"
                return self._died
        if self._llm.errored:
            self._died = "vLLM reports the engine dead"
        return self._died or None

    def unresponsive(self, limit_s: float) -> str | None:
        """A process of the engine stopped, or requests waiting ``limit_s`` with no output; else None.

        Called by the host's watchdog. Requests that wait are counted without a break:
        while typing, each completion is aborted within its deadline, which is no
        evidence either way. CPU use is none either: an idle vLLM worker spins, and an
        engine core sleeps through a long forward pass.
        """
        stopped = self._states.stopped()
        if stopped:
            return f"its {stopped} is stopped (SIGSTOP, or a debugger)"
        since = self._waiting_since
        if since is not None and time.monotonic() - since >= limit_s:
            return f"requests have waited {time.monotonic() - since:.0f} s with no output (hung?)"
        return None

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationDelta, None]:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind
        from vllm.v1.engine.exceptions import EngineDeadError

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
        outputs = llm.generate(request.prompt, params, request.request_id, priority=int(request.priority))
        first = True
        self._in_flight += 1
        if self._waiting_since is None:
            self._waiting_since = time.monotonic()
        try:
            while True:
                try:
                    output = await anext(outputs)
                except StopAsyncIteration:
                    return
                except Exception as err:
                    if self._died or (isinstance(err, EngineDeadError) and self._llm is not None):
                        # The engine core died under this request (killed, crashed): the request
                        # fails like any backend's; the host's watchdog restarts the engine.
                        raise BackendError("the engine died", retryable=False) from None
                    if self._llm is None:
                        # Stopped under this request (shutdown, a profile switch): vLLM marks the
                        # engine dead, and the request fails as any backend's would.
                        raise BackendError(
                            f"the engine stopped ({type(err).__name__})", retryable=False
                        ) from None
                    raise  # the engine failed on its own: a bug, with its traceback
                self._waiting_since = time.monotonic()  # output: what waits now waits from here
                prompt_ids = output.prompt_token_ids if first else None
                first = False
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
                    prompt_token_ids=prompt_ids,
                )

        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._waiting_since = None


def _build_llm(async_llm: Any, config: EngineConfig, accelerator: bool) -> Any:
    """``AsyncLLM`` for the config; a model whose own context is shorter than configured runs with its own."""
    try:
        return async_llm.from_engine_args(engine_args(config, accelerator))
    except Exception as err:  # vLLM checks this before it starts anything
        found = _TOO_LONG.search(str(err))
        if found is None:
            raise
        own = int(found.group(2))
        log.warning(
            "%s allows %d tokens of context, less than engine.max_model_len %d: using %d",
            config.model,
            own,
            config.max_model_len,
            own,
        )
        return async_llm.from_engine_args(
            engine_args(msgspec.structs.replace(config, max_model_len=own), accelerator)
        )


def check_cpu_memory(kv_cache_gib: int) -> None:
    """On CPU, the KV cache is allocated whole at start: refuse at once what memory cannot hold."""
    import psutil

    free_gib = psutil.virtual_memory().available / 2**30
    if kv_cache_gib > free_gib:
        raise EngineSetupError(
            f"not enough memory: the KV cache needs {kv_cache_gib} GiB (engine.cpu_kv_cache_gib, or"
            f" VLLM_CPU_KVCACHE_SPACE) and {free_gib:.1f} GiB is free; lower engine.cpu_kv_cache_gib"
            " (1-2 GiB serves a small model) or free memory"
        )


def explain_load_failure(err: Exception) -> Exception:
    """vLLM's load failures that have a known cure, as an ``EngineSetupError`` saying it; others unchanged."""
    text = str(err)
    if "out of memory" in text.lower() or type(err).__name__ == "OutOfMemoryError":
        return EngineSetupError(
            f"out of memory while loading the model ({text[:200]}); lower engine.max_model_len,"
            " engine.max_num_seqs or engine.gpu_memory_utilization, or choose a smaller model"
        )
    if "Engine core initialization failed" in text:
        killed = "-9" in text  # the kernel's out-of-memory killer, most often
        return EngineSetupError(
            "vLLM's engine core failed while loading the model"
            + (" (killed: most likely out of memory)" if killed else "")
            + "; the server log above has vLLM's reason. A smaller model, a lower engine.max_model_len"
            " or engine.cpu_kv_cache_gib often helps"
        )
    return err


def _exit_description(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ProcessStates:
    """Is a process of the engine (its engine core, or the workers it started) stopped?"""

    def __init__(self, processes: Sequence[BaseProcess]) -> None:
        self._roots = [p.pid for p in processes if p.pid is not None]
        self._watched: list[Any] = []  # psutil.Process, found once the workers exist

    def stopped(self) -> str | None:
        import psutil

        if not self._roots:
            return None  # in-process engine: it cannot be stopped without the server
        try:
            if not self._watched:
                roots = [psutil.Process(pid) for pid in self._roots]
                self._watched = roots + [c for root in roots for c in root.children(recursive=True)]
            for process in self._watched:
                if process.status() == psutil.STATUS_STOPPED:
                    return f"{process.name()} process (pid {process.pid})"
        except psutil.Error:  # one ended (the watchdog's failure check sees it), or a new one came
            self._watched = []
        return None


_PAUSES = 0
_PAUSES_LOCK = threading.Lock()


@contextmanager
def _collection_paused() -> Iterator[None]:
    """No automatic garbage collection while an engine loads (process-wide, so counted).

    Importing vLLM and loading a model make millions of objects, and every automatic
    full collection on the way walks all of them holding the GIL: the event loop
    stood still for 0.1-1.5 s a dozen times during a load. The load ends with one
    collection instead, and freezes what survives.
    """
    global _PAUSES
    with _PAUSES_LOCK:
        _PAUSES += 1
        gc.disable()
    try:
        yield
    finally:
        with _PAUSES_LOCK:
            _PAUSES -= 1
            if not _PAUSES:
                gc.enable()


@asynccontextmanager
async def running_vllm(config: EngineConfig) -> AsyncIterator[VllmEngine]:
    """Build the engine (in a thread, so the server keeps answering) and shut it down."""
    abandoned = threading.Event()

    def build() -> tuple[Any, list[BaseProcess]]:
        with _collection_paused():
            return build_paused()

    def build_paused() -> tuple[Any, list[BaseProcess]]:
        check_model_source(config.model)  # a missing or half-converted model: a message, not vLLM's traceback
        with LIBRARY_IMPORTS:
            accelerator = has_accelerator()  # imports torch: seconds, never on the event loop
        with _BUILDING:
            prepare_environment(config, accelerator)  # before vLLM's import: it sets up its logging then
            with LIBRARY_IMPORTS:
                from vllm.v1.engine.async_llm import AsyncLLM

                import_accelerate_whole()

            if not accelerator:
                check_cpu_memory(int(os.environ["VLLM_CPU_KVCACHE_SPACE"]))
            before = set(multiprocessing.active_children())
            try:
                llm = _build_llm(AsyncLLM, config, accelerator)
            except Exception as err:
                raise explain_load_failure(err) from err
            # Builds take turns, so the processes started meanwhile are this engine's.
            processes = [p for p in multiprocessing.active_children() if p not in before]
        if not accelerator and config.cpu_nice:
            lower_priority(processes, config.cpu_nice)
        if abandoned.is_set():  # the server stopped while we loaded: leave no engine behind
            stop_vllm(llm, processes)
            return llm, processes
        # vLLM, torch and transformers leave millions of long-lived objects. A full
        # garbage collection walks them all, holding the GIL and so the server's
        # event loop: 150-390 ms each here. In a long session one comes whenever
        # enough new objects have survived. Frozen, the collector skips them. The
        # load's own garbage is frozen with them (~17k objects, a few MB, with
        # SmolLM2): collecting it first would walk everything once more, a 0.4-0.5 s
        # stall of every request when the engine becomes ready.
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
