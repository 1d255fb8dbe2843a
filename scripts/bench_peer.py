"""aicockpit and tabby-agent side by side on the remote path, measured from outside (issue 15).

One run alternates rounds of the servers below, each replaying the same trace
(fixtures/traces/one_char: one character typed into the stdlib's textwrap.py
before each of 100 requests, 200 ms apart) through the bench's raw-LSP driver
(bench/client.py, bench/replay.py), each against a fresh instance of the
bench's mock backend (bench/mock_openai.py: OpenAI's API for aicockpit, Tabby's
for tabby-agent, the same text after the same fixed delay). Debounce 0 on both
servers. The overhead is measured from the client's and the mock's timestamps
alone (``outside_view``): neither server's own accounting is used.

- ``aicockpit``: ``aicockpit serve`` with every role on a remote profile at the
  mock, asked with ``textDocument/inlineCompletion`` (as ``aicockpit bench
  --remote-mock`` does, in the same workspace);
- ``aicockpit-completion``: the same server asked with ``textDocument/completion``,
  the one request tabby-agent answers (its 1.5.0 LSP server has no inline
  completion), so that both servers get identical requests;
- ``tabby-agent``: ``node PATH/dist/cli.js --lsp --stdio`` with a temporary HOME
  holding its config.toml (see TABBY_CONFIG for what is set and why). Left as
  it comes: its completion cache, which after each answer also stores entries
  for the answer's first characters typed (no setting turns it off), so a few
  requests are answered without the backend; those, like aicockpit's answers
  from its own cache, have no backend request to pair with and are not in the
  overhead figures (``reached_backend`` counts what did reach it).

Run: ``.venv/bin/python scripts/bench_peer.py --tabby-agent PATH [--rounds 3]``.
Nothing is downloaded: get tabby-agent with ``npm pack tabby-agent@1.5.0 && tar
xzf tabby-agent-1.5.0.tgz`` (PATH is then ./package).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "server")]

from aicockpit.bench.client import LspClient  # noqa: E402
from aicockpit.bench.replay import (  # noqa: E402
    COMPLETION,
    INLINE,
    SPLIT_QS,
    Sent,
    TraceReplay,
    load_traces,
    outside_view,
    quantiles,
)
from aicockpit.bench.run import WORKSPACE, RemoteMock, wait_indexed, wait_ready  # noqa: E402

SERVERS = ("aicockpit", "aicockpit-completion", "tabby-agent")
TRACE = ROOT / "fixtures" / "traces" / "one_char"
SETTLE_S = 1.0  # after start-up, for background work (tabby-agent's server settings, aicockpit's index)
TABBY_VERSION_READ = "1.5.0"  # the version whose dist/cli.js TABBY_CONFIG was checked against
# Its config file, under the temporary HOME (~/.tabby-client/agent/config.toml): the LSP server
# of 1.5.0 reads no initializationOptions, and this file is what its users edit.
TABBY_CONFIG = """\
[server]
endpoint = "{url}"
# With a token there is no sign-in flow (which would poll a Tabby server for one).
token = "bench"

[completion.debounce]
# The default, "adaptive", waits 100 to 1000 ms, learned from the typing speed; "fixed" sleeps
# the interval: setTimeout(0), which Node runs after 1 ms at the least (there is no way to skip it).
mode = "fixed"
interval = 0

[logs]
level = "silent"

[anonymousUsageTracking]
# Else it POSTs usage events to app.tabbyml.com (unreachable here; not the server's work).
disable = true
"""
NO_TABBY = """\
bench_peer: tabby-agent is needed for the side-by-side run (or pick --servers without it).
It is not bundled and this script downloads nothing. Get it from npm, then pass its folder:
    npm pack tabby-agent@1.5.0 && tar xzf tabby-agent-1.5.0.tgz
    .venv/bin/python scripts/bench_peer.py --tabby-agent ./package
"""


class Run:
    """One server's replay of the trace, with what its mock saw."""

    def __init__(self, replay: TraceReplay, mock: dict[str, Any], answers: list, cpu_ms: float | None):
        self.sent: list[Sent] = replay.sent
        self.mock = mock
        self.answers = answers
        self.cpu_ms = cpu_ms


def figures(runs: list[Run]) -> dict[str, Any]:
    """Pooled over runs: their clocks are one (perf_counter is system-wide), so pairs stay apart."""
    sent = [s for run in runs for s in run.sent]
    answered = [s for s in sent if not s.cancelled and s.latency_ms is not None]
    cpu = [run.cpu_ms for run in runs if run.cpu_ms is not None]
    return {
        "requests": len(sent),
        "answered": len(answered),
        "cancelled_by_client": sum(s.cancelled for s in sent),
        "e2e_latency_ms": quantiles([s.latency_ms for s in answered], SPLIT_QS),
        "outside_view": outside_view(sent, [a for run in runs for a in run.answers]),
        "reached_backend": sum(run.mock["requests"] for run in runs),
        "backend_connections": sum(run.mock["connections"] for run in runs),
        "backend_aborted": sum(run.mock["aborted"] for run in runs),
        # The same text reached both servers: as many tokens per backend request.
        "backend_tokens_per_request": round(
            sum(run.mock["tokens_sent"] for run in runs) / max(1, sum(run.mock["requests"] for run in runs)),
            2,
        ),
        # A suggestion that still fits the text when it arrives is what the editor shows.
        "suggestions_shown": sum(bool(s.items) and not s.stale for s in answered),
        "stale": sum(s.stale for s in answered),
        "server_cpu_ms_per_request": round(sum(cpu) / max(1, len(sent)), 2) if cpu else None,
    }


async def replay_on(client: LspClient, mock: RemoteMock, trace: dict, uri: str, method: str) -> Run:
    await asyncio.sleep(SETTLE_S)
    cpu_before = client.cpu_seconds()
    replay = TraceReplay(client, trace, uri, method)
    await replay.run()
    cpu_after = client.cpu_seconds()
    await asyncio.sleep(0.3)  # the mock's last answers written
    stats = await mock.stats()
    cpu_ms = (cpu_after - cpu_before) * 1000 if cpu_before is not None and cpu_after is not None else None
    return Run(replay, stats, mock.answers, cpu_ms)


def workspace_in(scratch: Path) -> Path:
    """The bench's fixture project, so aicockpit's prompts carry repository context as in its bench."""
    root = scratch / "shop-project"
    shutil.copytree(WORKSPACE, root)
    (root / ".git").mkdir()
    return root


async def aicockpit_round(args, trace: dict, method: str, scratch: Path) -> Run:
    root = workspace_in(scratch)
    mock = RemoteMock(args.delay_ms, 0)
    await mock.start()
    # As `aicockpit bench --remote-mock --debounce-ms 0`, without the event-loop monitor
    # (a diagnostic, off in a user's server; tabby-agent has none).
    options: dict[str, Any] = {
        "completion": {"max_tokens": 32, "timeout_ms": 2000, "debounce_min_ms": 0, "debounce_max_ms": 0},
        **mock.profile_options(),
    }
    capabilities = {"textDocument": {"inlineCompletion": {}}} if method == INLINE else {}

    async def indexed(client: LspClient) -> None:
        await wait_ready(client, remote=True)
        await wait_indexed(client)

    return await serve_and_replay(
        args,
        mock,
        [sys.executable, "-m", "aicockpit", "serve", "--log-level", "warning"],
        dict(os.environ, AICOCKPIT_CACHE_DIR=str(scratch / "cache")),
        {"rootUri": root.as_uri(), "capabilities": capabilities, "initializationOptions": options},
        indexed,
        trace,
        (root / "shop" / f"bench_0_{trace['name']}.py").as_uri(),
        method,
    )


async def tabby_round(args, trace: dict, scratch: Path) -> Run:
    root = workspace_in(scratch)
    mock = RemoteMock(args.delay_ms, 0)
    await mock.start()
    home = scratch / "home"  # tabby-agent writes its config, data.json and logs under ~/.tabby-client
    (home / ".tabby-client" / "agent").mkdir(parents=True)
    config = TABBY_CONFIG.format(url=f"http://127.0.0.1:{mock.port}")
    (home / ".tabby-client" / "agent" / "config.toml").write_text(config, encoding="utf-8")

    async def ready(client: LspClient) -> None:
        pass  # its initialize returns once the config is read and /v1/health answered

    return await serve_and_replay(
        args,
        mock,
        [args.node, str(args.tabby_agent / "dist" / "cli.js"), "--lsp", "--stdio"],
        dict(os.environ, HOME=str(home)),
        {"rootUri": root.as_uri(), "capabilities": {}},
        ready,
        trace,
        (root / "shop" / f"bench_0_{trace['name']}.py").as_uri(),
        COMPLETION,
    )


async def serve_and_replay(
    args, mock: RemoteMock, command: list[str], env: dict[str, str], initialize: dict[str, Any],
    ready, trace: dict, uri: str, method: str,
) -> Run:  # fmt: skip
    """Start the server, initialize it, wait until ``ready`` says so, replay; then stop it and its mock."""
    client = await LspClient.spawn_logging(command, env, args.server_log)
    try:
        await client.request("initialize", {"processId": os.getpid(), **initialize}, timeout=120)
        client.notify("initialized", {})
        await ready(client)
        return await replay_on(client, mock, trace, uri, method)
    finally:
        await client.close()
        await mock.stop()


async def one_round(args, server: str, trace: dict) -> Run:
    with tempfile.TemporaryDirectory(prefix="aicockpit-peer-") as scratch:
        if server == "tabby-agent":
            return await tabby_round(args, trace, Path(scratch))
        method = INLINE if server == "aicockpit" else COMPLETION
        return await aicockpit_round(args, trace, method, Path(scratch))


def compact(run: Run) -> dict[str, Any]:
    one = figures([run])
    view = one["outside_view"]
    return {
        "e2e_latency_ms": one["e2e_latency_ms"],
        "overhead_ms": view["server_overhead_ms"],
        "before_backend_read_ms_p50": view["before_backend_read_ms"]["p50"],
        "after_backend_wrote_ms_p50": view["after_backend_wrote_ms"]["p50"],
        "matched": view["matched_requests"],
        "reached_backend": one["reached_backend"],
        "suggestions_shown": one["suggestions_shown"],
        "server_cpu_ms_per_request": one["server_cpu_ms_per_request"],
        "mock_service_ms_p50": run.mock["service_ms"]["p50"],
    }


async def main_async(args) -> dict[str, Any]:
    traces = load_traces([Path(args.traces)])
    runs: dict[str, list[Run]] = {server: [] for server in args.servers}
    rounds: list[dict[str, Any]] = []
    for number in range(args.rounds):
        # Odd rounds run the servers in reverse, so a drift in the machine's speed hits both alike.
        order = args.servers if number % 2 == 0 else args.servers[::-1]
        this_round: dict[str, Any] = {"load_before": os.getloadavg()[0]}
        for server in order:
            for trace in traces:
                run = await one_round(args, server, trace)
                runs[server].append(run)
                this_round[server] = compact(run)
            print(f"bench_peer: round {number + 1} {server} done", file=sys.stderr)
        rounds.append(this_round)
    pooled = {server: figures(server_runs) for server, server_runs in runs.items()}
    report: dict[str, Any] = {
        "trace": args.traces,
        "backend_delay_ms": args.delay_ms,
        "debounce_ms": 0,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "loadavg_end": os.getloadavg()},
        "tabby_agent": args.tabby_version and {"path": str(args.tabby_agent), "version": args.tabby_version},
        "rounds": rounds,
        "pooled": pooled,
    }
    if "tabby-agent" in pooled:
        tabby = pooled["tabby-agent"]["outside_view"]["server_overhead_ms"]["p50"]
        report["overhead_p50_vs_tabby_agent"] = {
            server: round(view["outside_view"]["server_overhead_ms"]["p50"] / tabby, 3) if tabby else None
            for server, view in pooled.items()
            if server != "tabby-agent"
        }
    return report


def check_tabby(args) -> str | None:
    """The problem with the --tabby-agent folder or node, if any; records the version."""
    if args.tabby_agent is None:
        return NO_TABBY
    cli = args.tabby_agent / "dist" / "cli.js"
    try:
        package = json.loads((args.tabby_agent / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        package = {}
    if package.get("name") != "tabby-agent" or not cli.is_file():
        return (
            f"bench_peer: {args.tabby_agent} is not tabby-agent's package folder (no dist/cli.js)\n{NO_TABBY}"
        )
    if shutil.which(args.node) is None:
        return f"bench_peer: {args.node!r} not found: tabby-agent runs on Node.js (18 or later)\n"
    args.tabby_version = package.get("version")
    if args.tabby_version != TABBY_VERSION_READ:
        print(
            f"bench_peer: tabby-agent {args.tabby_version}: its config was checked against "
            f"{TABBY_VERSION_READ} only (debounce, endpoint, telemetry keys)",
            file=sys.stderr,
        )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabby-agent", type=Path, metavar="PATH", help="tabby-agent's package folder")
    parser.add_argument("--node", default="node", help="the Node.js binary for tabby-agent (default: node)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay-ms", type=float, default=50.0, help="the mock backend's answer time")
    parser.add_argument("--traces", default=str(TRACE), help="trace file or folder (default: one_char)")
    parser.add_argument(
        "--servers",
        type=lambda text: tuple(s for s in text.split(",") if s),
        default=SERVERS,
        help=f"comma-separated, of {', '.join(SERVERS)} (default: all)",
    )
    parser.add_argument("--server-log", metavar="FILE", help="append the servers' stderr to FILE")
    parser.add_argument("--out", help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    args.tabby_version = None
    if unknown := set(args.servers) - set(SERVERS):
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    if "tabby-agent" in args.servers and (problem := check_tabby(args)):
        print(problem, file=sys.stderr, end="")
        return 2
    report = asyncio.run(main_async(args))
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
