"""Roles to backends: which engine serves completion, edit and chat, and what happens when it fails.

The features call ``router.for_role(role)`` and get an ``Engine``; its
``generate`` tries the role's profile, then its fallbacks in order. Per
backend: a circuit breaker, and for remote backends retries with backoff only
before the first text arrives (afterwards the user has seen text: a failure ends
the request) and the role's time limits. An embedded engine is not a flaky
network: it is never retried or timed out as a failure (the caller's own deadline
decides how long to wait; a crash or a hang reaches its breaker from the engine's
host). Every request ends in the usage store, and leaves a speed sample
(engine/speed.py) that the prompt budgets are sized from.

Embedded profiles share one ``EngineHost`` per distinct engine setting (one
model can serve several roles); the top-level ``engine`` section always runs in
the application's own host. ``apply`` unloads engines no role uses before it
loads new ones, so a switch never holds two models in memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from aicockpit.background import spawn
from aicockpit.config import ROLES, AicockpitConfig, EngineConfig, ProfileConfig, RoleConfig
from aicockpit.engine.base import BackendError, Engine, EngineState, EngineUnavailable
from aicockpit.engine.breaker import BreakerState, CircuitBreaker
from aicockpit.engine.host import EngineHost
from aicockpit.engine.openai_remote import OpenAIRemoteEngine, load_tokenizer
from aicockpit.engine.speed import SpeedMeter, SpeedSample
from aicockpit.generation import EngineSpeed, GenerationDelta, GenerationRequest, Priority
from aicockpit.telemetry import PromptLog
from aicockpit.usage import UsageStore

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _key(config: EngineConfig) -> bytes:
    return msgspec.json.encode(config)


def redact_url(url: str) -> str:
    """A URL without user name or password, for stats and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Backend:
    """One profile: its engine (an embedded host or a remote server) and its health."""

    def __init__(self, name: str, profile: ProfileConfig, host: EngineHost | None = None) -> None:
        self.name = name
        self.profile = profile
        self.host = host
        self.remote: OpenAIRemoteEngine | None = None
        self.breaker = CircuitBreaker(profile.breaker_failures, profile.breaker_cooldown_s)
        self.error = ""
        self.last_first_token_ms: float | None = None
        self.speed = SpeedMeter()

    @property
    def embedded(self) -> bool:
        return self.profile.backend == "embedded"

    async def prepare(self) -> None:
        """Remote: load the profile's tokenizer (local files) off the event loop."""
        if self.embedded or self.remote is not None:
            return
        try:
            tokenizer = await asyncio.to_thread(load_tokenizer, self.profile)
            self.remote = OpenAIRemoteEngine(self.profile, tokenizer)
            self.remote.warm()  # connected before the first keystroke needs it
            self.error = ""
        except Exception as err:  # a bad tokenizer path must not take the server down
            log.warning("profile %s: cannot load tokenizer %s: %s", self.name, self.profile.tokenizer, err)
            self.error = f"tokenizer: {type(err).__name__}: {err}"

    def engine(self) -> Engine:
        if self.embedded:
            if self.host is None:
                raise EngineUnavailable(f"profile {self.name}: its engine is not loaded")
            return self.host.engine
        if self.remote is None:
            raise EngineUnavailable(
                f"profile {self.name} is not ready" + (f": {self.error}" if self.error else "")
            )
        return self.remote

    @property
    def model(self) -> str:
        try:
            return self.engine().model_name
        except EngineUnavailable:
            return self.profile.engine.model if self.profile.engine else self.profile.model or "embedded"

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.profile.backend, "model": self.model}
        if self.embedded:
            out["state"] = self.host.state.value if self.host else EngineState.STOPPED.value
            out["error"] = self.host.error if self.host else ""
        else:
            out["url"] = redact_url(self.profile.url)
            out["state"] = "ready" if self.remote is not None else "failed" if self.error else "loading"
            out["error"] = self.error
        try:
            out["unfinished_requests"] = self.engine().unfinished_requests()
        except EngineUnavailable:
            out["unfinished_requests"] = 0
        out["last_first_token_ms"] = self.last_first_token_ms
        out["speed"] = speed_status(self.speed.snapshot())
        out.update(self.breaker.status())
        return out

    async def close(self) -> None:
        # A client with open streams is left to finish them (and to the garbage collector):
        # closing it would fail answers already on their way to the user.
        if self.remote is not None and self.remote.unfinished_requests() == 0:
            await self.remote.aclose()


class Router:
    def __init__(
        self,
        default_host: EngineHost,
        usage: UsageStore | None = None,
        host_factory: Callable[[], EngineHost] = EngineHost,
        prompts: PromptLog | None = None,
    ) -> None:
        self.default_host = default_host
        self.usage = usage
        self.prompts = prompts
        self._host_factory = host_factory
        self._hosts: dict[bytes, EngineHost] = {}
        self._backends: dict[str, Backend] = {}
        self._config = AicockpitConfig()
        self._overrides: dict[str, str] = {}  # role -> profile, from switchProfile
        self._switching: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self.started = False
        # Told when a real request (not a pre-warm) starts: pre-warming steps aside for it.
        self.request_listeners: list[Callable[[], None]] = []
        self._watch_host(default_host)

    def _watch_host(self, host: EngineHost) -> None:
        """An engine that restarted starts with closed breakers; one that stops answering opens them."""

        def on_state(state: EngineState, _message: str) -> None:
            if state is EngineState.READY:
                for backend in self.backends_on(host):
                    backend.breaker.reset()

        def on_health(problem: str) -> None:
            if problem:
                for backend in self.backends_on(host):
                    backend.breaker.trip(f"engine unresponsive: {problem}")

        host.on_state(on_state)
        host.on_health(on_health)

    def backends_on(self, host: EngineHost) -> list[Backend]:
        return [backend for backend in self._backends.values() if backend.host is host]

    # -- configuration -------------------------------------------------------------

    def configure(self, config: AicockpitConfig) -> None:
        """Take a new config now; engines follow in ``apply``. A role the user re-points drops its switch."""
        for role in ROLES:
            if getattr(config.roles, role).profile != getattr(self._config.roles, role).profile:
                self._overrides.pop(role, None)
        self._overrides = {r: p for r, p in self._overrides.items() if p in config.profiles}
        self._config = config
        for name, backend in list(self._backends.items()):
            profile = config.profiles.get(name)
            if profile is None or _changed(backend.profile, profile):
                self._backends.pop(name)
                if backend.remote is not None:  # only a remote backend holds connections
                    spawn(backend.close(), name=f"closing profile {name}")
            else:  # sampling, limits and extra fields change in place; health history stays
                backend.profile = profile
                if backend.remote is not None:
                    backend.remote.profile = profile
                backend.breaker.reconfigure(profile.breaker_failures, profile.breaker_cooldown_s)
        for name in self.used_profiles():
            if name not in self._backends:
                self._backends[name] = Backend(name, config.profiles[name])
        for backend in self._backends.values():  # engines whose settings changed are reassigned in apply
            if backend.embedded and backend.host is not self._hosts.get(self._engine_key(backend)):
                backend.host = None

    def backend(self, name: str) -> Backend | None:
        return self._backends.get(name)

    def switching_to(self, role: str) -> str | None:
        return self._switching.get(role)

    def profile_for(self, role: str) -> str:
        return self._overrides.get(role) or getattr(self._config.roles, role).profile

    def chain(self, role: str) -> list[str]:
        """The role's profile, then its fallbacks, each once."""
        names = [self.profile_for(role), *getattr(self._config.roles, role).fallback]
        return list(dict.fromkeys(names))

    def used_profiles(self) -> list[str]:
        return list(dict.fromkeys(name for role in ROLES for name in self.chain(role)))

    def engine_config(self, profile: ProfileConfig) -> EngineConfig:
        return profile.engine or self._config.engine

    def _engine_key(self, backend: Backend) -> bytes:
        return _key(self.engine_config(backend.profile))

    def uses_default_engine(self) -> bool:
        wanted = _key(self._config.engine)
        return any(
            self._backends[n].embedded and self._engine_key(self._backends[n]) == wanted
            for n in self.used_profiles()
        )

    async def apply(self, config: AicockpitConfig | None = None, progress: Progress | None = None) -> None:
        """Bring the running engines in line with the config: unload unused ones first, then load."""
        async with self._lock:
            if config is not None:
                self.configure(config)
            self.started = True
            await self._reconcile(progress or (lambda message: None))

    async def _reconcile(self, progress: Progress) -> None:
        used = [self._backends[name] for name in self.used_profiles()]
        wanted: dict[bytes, EngineConfig] = {}
        for backend in used:
            if backend.embedded:
                wanted[self._engine_key(backend)] = self.engine_config(backend.profile)
        # 1. Unload what no role uses any more, before loading anything: memory is the limit.
        for key, host in list(self._hosts.items()):
            if key not in wanted:
                del self._hosts[key]
                for backend in self._backends.values():
                    if backend.host is host:
                        backend.host = None
                if host.running or host.state is EngineState.READY:
                    progress("unloading an embedded model no role uses")
                    log.info("unloading an embedded engine no role uses")
                await host.stop()
        # 2. Load what is new. The application's own host takes the top-level engine section.
        for key, config in wanted.items():
            if key in self._hosts:
                continue
            free = self.default_host not in self._hosts.values() and not self.default_host.running
            if free and key == _key(self._config.engine):
                host = self.default_host
            else:
                host = self._host_factory()
                self._watch_host(host)
            self._hosts[key] = host
            progress(f"loading {config.model}")
            host.start(config)
        for backend in used:
            if backend.embedded:
                backend.host = self._hosts[self._engine_key(backend)]
            else:
                await backend.prepare()

    async def wait_ready(self, role: str, timeout: float | None = None) -> None:
        """Wait until the role's own profile can serve (embedded: loaded or failed)."""
        backend = self._backends[self.profile_for(role)]
        if backend.host is not None:
            await backend.host.wait_ready(timeout)

    async def switch_profile(
        self, role: str, profile: str, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Point ``role`` at ``profile``; requests for the role meanwhile get ``EngineUnavailable``."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        if profile not in self._config.profiles:
            raise ValueError(f"no profile named {profile!r}; profiles are {', '.join(self._config.profiles)}")
        if role in self._switching:
            raise ValueError(f"{role} is already switching to {self._switching[role]}")
        progress = progress or (lambda message: None)
        self._switching[role] = profile
        try:
            async with self._lock:
                self._overrides[role] = profile
                self.configure(self._config)
                await self._reconcile(progress)
            await self.wait_ready(role, self.engine_config(self._config.profiles[profile]).start_timeout_s)
        finally:
            self._switching.pop(role, None)
        status = self._backends[profile].status()
        return {"role": role, "profile": profile, "state": status["state"], "error": status["error"]}

    async def stop(self) -> None:
        """Stop every engine and close every connection (server shutdown)."""
        async with self._lock:
            hosts = list(dict.fromkeys([*self._hosts.values(), self.default_host]))
            await asyncio.gather(*(host.stop() for host in hosts), return_exceptions=True)
            for backend in self._backends.values():
                await backend.close()

    # -- serving ------------------------------------------------------------------

    def for_role(self, role: str) -> RoleEngine:
        """An engine for ``role``; raises ``EngineUnavailable`` while nothing can serve it."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if role in self._switching:
            raise EngineUnavailable(f"{role} is switching to profile {self._switching[role]}: loading")
        backends = [self._backends[name] for name in self.chain(role) if name in self._backends]
        usable = []
        for backend in backends:
            try:
                usable.append((backend, backend.engine()))
            except EngineUnavailable:
                continue
        if not usable:
            reasons = "; ".join(f"{b.name}: {b.status()['state']}" for b in backends)
            raise EngineUnavailable(f"no backend for {role} is ready ({reasons})")
        return RoleEngine(
            role, getattr(self._config.roles, role), usable, self.usage, self.prompts, self._request_started
        )

    def _request_started(self) -> None:
        for listener in self.request_listeners:
            try:
                listener()
            except Exception:
                log.exception("request listener failed")

    def warm(self, role: str) -> None:
        """A request for ``role`` is coming (the user types): have the backend that will serve it
        connected. The one ``for_role`` would try first, found without building its engine (this
        runs on every keystroke)."""
        for name in self.chain(role):
            backend = self._backends.get(name)
            if backend is None or backend.breaker.state is BreakerState.OPEN:
                continue
            try:
                engine = backend.engine()
            except EngineUnavailable:
                continue
            warm = getattr(engine, "warm", None)  # remote engines; an embedded one is always ready
            if warm is not None:
                warm()
            return

    def host_for_role(self, role: str) -> RoleHost:
        return RoleHost(self, role)

    def status(self) -> dict[str, Any]:
        return {
            "roles": {
                role: {
                    "profile": self.profile_for(role),
                    "fallback": getattr(self._config.roles, role).fallback,
                    "switching_to": self._switching.get(role),
                }
                for role in ROLES
            },
            "backends": {
                name: {**b.status(), "in_use": name in self.used_profiles()}
                for name, b in self._backends.items()
            },
        }


class RoleHost:
    """Looks like an ``EngineHost`` to code that only reads ``.engine`` (the completion service)."""

    def __init__(self, router: Router, role: str) -> None:
        self._router, self._role = router, role

    @property
    def engine(self) -> RoleEngine:
        return self._router.for_role(self._role)

    def warm(self) -> None:
        self._router.warm(self._role)


class RoleEngine:
    """An ``Engine`` that serves one request from the first backend able to."""

    def __init__(
        self,
        role: str,
        limits: RoleConfig,
        candidates: list[tuple[Backend, Engine]],
        usage: UsageStore | None,
        prompts: PromptLog | None = None,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        self.role = role
        self._on_request = on_request
        self._limits = limits
        self._candidates = candidates
        self._usage = usage
        self._prompts = prompts
        # Prompts are built for the backend most likely to answer; a fallback to a
        # backend of another format gets its own (``GenerationRequest.builder``).
        first = next((c for c in candidates if c[0].breaker.state is not BreakerState.OPEN), candidates[0])
        self.model_name = first[1].model_name
        self.tokenizer = first[1].tokenizer
        self.prompt_format = first[1].prompt_format
        self.backend = first[0].name
        self.embedded = first[0].embedded
        self._first = first[0]

    @property
    def speed(self) -> EngineSpeed:
        """How fast the backend this role's prompts are built for has been (the budgets follow it)."""
        return self._first.speed.snapshot()

    def unfinished_requests(self) -> int:
        return sum(engine.unfinished_requests() for _, engine in self._candidates)

    def failure(self) -> str | None:
        return None  # each backend's engine has its host, which watches it

    def unresponsive(self, limit_s: float) -> str | None:
        return None

    def shutdown(self) -> None:
        """Engines belong to their hosts; a role view has nothing to release."""

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationDelta, None]:
        if self._on_request is not None and request.priority < Priority.PREWARM:
            self._on_request()
        deadline = time.monotonic() + self._limits.timeout_ms / 1000
        reasons: list[str] = []
        for backend, engine in self._candidates:
            if not backend.breaker.allow():
                reasons.append(f"{backend.name}: breaker open")
                continue
            try:
                prompt = _prompt_for(request, engine)
            except Exception as err:  # a prompt builder that fails costs this backend only
                log.warning("%s request: no prompt for %s: %s", self.role, backend.name, err)
                reasons.append(f"{backend.name}: no prompt for its format")
                continue
            # A local engine that failed will not do better at once: only remote backends retry.
            retries = backend.profile.retries if backend.breaker.state is BreakerState.CLOSED else 0
            if backend.embedded:
                retries = 0
            for attempt in range(retries + 1):
                outcome = _Attempt()
                try:
                    # Closed explicitly: left to the garbage collector, a consumer's close
                    # would leave the backend's request generating until a GC pass.
                    async with aclosing(
                        self._attempt(backend, engine, prompt, attempt, deadline, outcome)
                    ) as stream:
                        async for delta in stream:
                            yield delta
                except BackendError as err:
                    reason = f"{backend.name}: {err}"
                    if outcome.started:  # text already went out: no retry, no fallback
                        self._finish(backend, engine, outcome, failed=reason)
                        raise BackendError(f"{self.role} request failed mid-stream ({reason})") from None
                    if attempt < retries and err.retryable and time.monotonic() < deadline:
                        log.info("%s; retrying (%d of %d)", reason, attempt + 1, retries)
                        await asyncio.sleep(backend.profile.retry_backoff_ms / 1000 * 2**attempt)
                        continue
                    self._finish(backend, engine, outcome, failed=reason)
                    log.warning("%s request: %s", self.role, reason)
                    reasons.append(reason)
                    break
                except BaseException:  # cancelled or closed by the consumer
                    if outcome.started:  # text arrived (the scheduler stops early at a line's end): it works
                        self._finish(backend, engine, outcome, failed=None)
                    else:  # no verdict on the backend
                        backend.breaker.release()
                        self._finish(backend, engine, outcome, failed=None, verdict=False)
                    raise
                self._finish(backend, engine, outcome, failed=None)
                return
        raise BackendError(f"no backend answered the {self.role} request: " + "; ".join(reasons))

    async def _attempt(
        self,
        backend: Backend,
        engine: Engine,
        request: GenerationRequest,
        attempt: int,
        deadline: float,
        outcome: _Attempt,
    ) -> AsyncGenerator[GenerationDelta, None]:
        request = _for_profile(request, backend.profile, attempt)
        outcome.begin(busy=engine.unfinished_requests() > 0)
        started = outcome.started_at
        # A remote backend that keeps the user waiting is given up on (and retried or fallen
        # back from); an embedded engine is waited for as long as the caller waits.
        timed = not backend.embedded
        first_deadline = min(deadline, started + self._limits.first_token_timeout_ms / 1000)
        async with aclosing(engine.generate(request)) as stream:
            while True:
                # The time limit wraps only the wait for the next piece, never the
                # consumer's own work between pieces.
                limit = deadline if outcome.started else first_deadline
                try:
                    async with asyncio.timeout_at(_loop_time(limit) if timed else None):
                        delta = await anext(stream)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    what = "the next piece" if outcome.started else "the first token"
                    raise BackendError(f"timed out waiting for {what}") from None
                except BackendError:
                    raise
                except RuntimeError as err:  # an engine that died or stopped (EngineUnavailable too)
                    raise BackendError(f"{type(err).__name__}: {err}") from None
                outcome.update(delta)
                if self._prompts is not None and not outcome.recorded:
                    outcome.recorded = True
                    self._prompts.record(self.role, backend.name, request, engine.tokenizer, delta)
                if not outcome.started and delta.text:
                    outcome.started = True
                    backend.last_first_token_ms = round((time.monotonic() - started) * 1000, 1)
                yield delta

    def _finish(
        self, backend: Backend, engine: Engine, outcome: _Attempt, failed: str | None, verdict: bool = True
    ) -> None:
        if verdict:
            if failed is None:
                backend.breaker.success()
            else:
                backend.breaker.failure(failed)
        sample = outcome.speed_sample()
        if sample is not None:
            backend.speed.observe(sample)
        if self._usage is not None:
            self._usage.record(
                self.role,
                backend.name,
                engine.model_name,
                prompt_tokens=outcome.prompt_tokens,
                cached_tokens=outcome.cached_tokens,
                completion_tokens=outcome.generated_tokens,
                failed=failed is not None,
            )


def _prompt_for(request: GenerationRequest, engine: Engine) -> GenerationRequest:
    """The request as built for ``engine``'s format and tokenizer (rebuilt by the prompt layer if not)."""
    if request.fits(engine):
        return request
    if request.builder is None:
        raise ValueError("the prompt was built for another format and cannot be rebuilt")
    return request.builder.build(engine)


@dataclasses.dataclass
class _Attempt:
    started: bool = False  # text arrived
    recorded: bool = False
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    busy: bool = False  # the backend was serving another request when this one began
    started_at: float = 0.0
    first_at: float | None = None  # the first output (the prompt's prefill is done)
    first_generated: int = 0
    last_at: float | None = None

    def begin(self, busy: bool) -> None:
        self.busy, self.started_at = busy, time.monotonic()

    def update(self, delta: GenerationDelta) -> None:
        now = time.monotonic()
        if self.first_at is None:
            self.first_at, self.first_generated = now, max(1, delta.generated_tokens)
        self.last_at = now
        self.prompt_tokens = max(self.prompt_tokens, delta.prompt_tokens)
        self.cached_tokens = max(self.cached_tokens, delta.cached_tokens)
        self.generated_tokens = max(self.generated_tokens, delta.generated_tokens)

    def speed_sample(self) -> SpeedSample | None:
        """What this attempt says about the backend's speed; None when no output came."""
        if self.first_at is None or self.last_at is None or not self.prompt_tokens:
            return None
        return SpeedSample(
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached_tokens,
            first_token_s=self.first_at - self.started_at,
            decode_s=self.last_at - self.first_at,
            generated_tokens=self.generated_tokens - self.first_generated + 1,
            busy=self.busy,
        )


def speed_status(speed: EngineSpeed) -> dict[str, Any]:
    """The measured speed as ``aicockpit/stats`` reports it."""
    return {
        "prefill_tokens_per_s": speed.prefill_tokens_per_s,
        "decode_ms_per_token": speed.decode_ms_per_token,
        "first_token_ms_p50": speed.first_token_ms_p50,
        "samples": speed.samples,
    }


def _for_profile(request: GenerationRequest, profile: ProfileConfig, attempt: int) -> GenerationRequest:
    """The profile's sampling settings over the request's; a fresh id per attempt."""
    changes: dict[str, Any] = {}
    if attempt:
        changes["request_id"] = f"{request.request_id}-r{attempt}"
    if profile.temperature is not None:
        changes["temperature"] = profile.temperature
    if profile.top_p is not None:
        changes["top_p"] = profile.top_p
    if profile.max_tokens is not None and profile.max_tokens < request.max_tokens:
        changes["max_tokens"] = profile.max_tokens
    return dataclasses.replace(request, **changes) if changes else request


def _loop_time(deadline: float) -> float:
    """``time.monotonic`` deadline to the event loop's clock."""
    loop = asyncio.get_running_loop()
    return loop.time() + (deadline - time.monotonic())


def _changed(old: ProfileConfig, new: ProfileConfig) -> bool:
    """Did anything change that needs a new backend (not just limits and sampling)?"""
    fields: tuple[str, ...] = ("backend", "engine", "url", "model", "api_key_env", "tokenizer")
    fields += ("fim_mode", "fim_template", "context_length")
    fields += ("connect_timeout_ms", "idle_timeout_ms")
    return any(getattr(old, f) != getattr(new, f) for f in fields)
