"""Remote backend figures, printed as JSON (milliseconds).

- routing overhead: the same instant stream from a local fake server, straight
  from the remote engine vs through the router (breaker, limits, usage row);
- a real ``vllm serve`` with the tiny model on 127.0.0.1: FIM completion and
  chat first-token and total times, cached tokens on a repeated prompt;
- failing over: answer time when the remote is down, breaker closed vs open.

Run: ``.venv/bin/python scripts/bench_backends.py [--skip-vllm]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from contextlib import aclosing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "server"), str(ROOT)]

from aicockpit.config import ROLES, decode_config  # noqa: E402
from aicockpit.engine.host import EngineHost  # noqa: E402
from aicockpit.engine.routing import Router  # noqa: E402
from aicockpit.generation import ChatMessage, GenerationRequest  # noqa: E402
from aicockpit.prompt.fim import FIM_TEMPLATES  # noqa: E402
from aicockpit.usage import UsageStore  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402
from tests.support import tiny_model  # noqa: E402
from tests.vllm_serve import SERVED_NAME, VllmServe  # noqa: E402

CODE = "def total_price(items, tax_rate):\n    subtotal = sum(i.price * i.quantity for i in items)\n" * 4


async def timed(stream) -> tuple[float, float, object]:
    started = time.perf_counter()
    first = None
    last = None
    async with aclosing(stream) as deltas:
        async for delta in deltas:
            if first is None and delta.text:
                first = time.perf_counter()
            last = delta
    done = time.perf_counter()
    return ((first or done) - started) * 1000, (done - started) * 1000, last


def p50(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def all_roles(profile: str, **role) -> dict:
    """Every role on ``profile``: nothing embedded gets loaded."""
    return {name: {"profile": profile, **role} for name in ROLES}


async def router_for(options: dict, folder: Path) -> Router:
    config, problems = decode_config(options)
    assert not problems, problems
    router = Router(EngineHost(), usage=UsageStore(folder / "usage.sqlite3"))
    await router.apply(config)
    return router


async def overhead(folder: Path, n: int = 200) -> dict:
    async with FakeOpenAI(pieces=("a",) * 16) as server:
        profile = {"backend": "openai", "url": server.url, "model": "m"}
        router = await router_for({"profiles": {"r": profile}, "roles": all_roles("r")}, folder)
        engine = router.for_role("chat")._candidates[0][1]
        request = GenerationRequest("b", "prompt", 16)
        direct, routed = [], []
        for _ in range(n):  # interleaved, so drift in the fake server hits both alike
            direct.append((await timed(engine.generate(request)))[1])
            routed.append((await timed(router.for_role("chat").generate(request)))[1])
        await router.stop()
    return {"requests": n, "direct_p50_ms": p50(direct), "routed_p50_ms": p50(routed)}


async def failover(folder: Path, n: int = 20) -> dict:
    async with FakeOpenAI(pieces=("fallback",)) as fallback:
        dead = FakeOpenAI()
        async with dead:
            dead_url = dead.url  # closed below: connection refused
        options = {
            "profiles": {
                "dead": {
                    "backend": "openai",
                    "url": dead_url,
                    "model": "m",
                    "retries": 0,
                    "breaker_failures": 3,
                },
                "alive": {"backend": "openai", "url": fallback.url, "model": "m"},
            },
            "roles": all_roles("dead", fallback=["alive"]),
        }
        router = await router_for(options, folder)
        request = GenerationRequest("f", "prompt", 4)
        closed = [(await timed(router.for_role("completion").generate(request)))[1] for _ in range(3)]
        opened = [(await timed(router.for_role("completion").generate(request)))[1] for _ in range(n)]
        state = router.status()["backends"]["dead"]["breaker"]
        await router.stop()
    return {"breaker_closed_p50_ms": p50(closed), "breaker_open_p50_ms": p50(opened), "breaker": state}


async def vllm_figures(folder: Path, n: int = 10) -> dict:
    server = VllmServe(folder / "serve.log")
    started = time.perf_counter()
    await server.start()
    start_s = time.perf_counter() - started
    try:
        profile = {
            "backend": "openai",
            "url": server.url,
            "model": SERVED_NAME,
            "tokenizer": str(tiny_model()),
        }
        router = await router_for({"profiles": {"remote": profile}, "roles": all_roles("remote")}, folder)
        fim, chat, cached = [], [], []
        for i in range(n):
            request = GenerationRequest(f"c{i}", FIM_TEMPLATES["qwen"].render(CODE + f"# {i}\n", "\n"), 24)
            fim.append(await timed(router.for_role("completion").generate(request)))
            cached.append((fim[-1][2].cached_tokens, fim[-1][2].prompt_tokens))
            chat_request = GenerationRequest(f"h{i}", "", 24, messages=(ChatMessage("user", f"Explain {i}"),))
            chat.append(await timed(router.for_role("chat").generate(chat_request)))
        await router.stop()
    finally:
        server.stop()
    return {
        "vllm_serve_start_s": round(start_s, 1),
        "fim_24_tokens": {
            "first_token_p50_ms": p50([f[0] for f in fim]),
            "total_p50_ms": p50([f[1] for f in fim]),
        },
        "chat_24_tokens": {
            "first_token_p50_ms": p50([c[0] for c in chat]),
            "total_p50_ms": p50([c[1] for c in chat]),
        },
        "fim_cached_tokens_last": {"cached": cached[-1][0], "prompt": cached[-1][1]},
    }


async def main(skip_vllm: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        report = {"routing_overhead": await overhead(folder), "failover_remote_down": await failover(folder)}
        if not skip_vllm:
            report["vllm_serve_tiny_model"] = await vllm_figures(folder)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-vllm", action="store_true", help="only the figures that need no vllm serve")
    asyncio.run(main(parser.parse_args().skip_vllm))
