"""The one typed configuration tree.

Decoded from ``initializationOptions`` and ``workspace/didChangeConfiguration``
(and from CLI flags). Every field has a default and a description; the
descriptions feed ``aicockpit schema``, the source of editor settings.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

DEFAULT_MODEL = "Qwen/Qwen2.5-Coder-1.5B"


def _doc(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class EngineConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The embedded vLLM engine."""

    model: Annotated[
        str, _doc("Hugging Face model id or local model folder (a code model with FIM tokens is best).")
    ] = DEFAULT_MODEL
    tokenizer: Annotated[str | None, _doc("Tokenizer id or folder; the model's own when unset.")] = None
    dtype: Annotated[
        str,
        _doc(
            "Weight dtype: auto (the model's own; float32 on a CPU without bfloat16 arithmetic),"
            " bfloat16, float16 or float32."
        ),
    ] = "auto"
    max_model_len: Annotated[
        int, msgspec.Meta(ge=256), _doc("Longest prompt plus completion, in tokens.")
    ] = 8192
    gpu_memory_utilization: Annotated[
        float, msgspec.Meta(gt=0, le=1), _doc("Share of GPU memory vLLM may use (GPU only).")
    ] = 0.85
    tensor_parallel_size: Annotated[int, msgspec.Meta(ge=1), _doc("GPUs to split the model across.")] = 1
    quantization: Annotated[str | None, _doc("vLLM quantization method (awq, gptq, fp8...), or none.")] = None
    enforce_eager: Annotated[bool, _doc("Skip CUDA graph capture: faster start, slower decoding.")] = False
    cpu_kv_cache_gib: Annotated[
        int, msgspec.Meta(ge=1), _doc("KV cache size in GiB on CPU-only machines.")
    ] = 1
    max_num_seqs: Annotated[int, msgspec.Meta(ge=1), _doc("Most requests the engine runs at once.")] = 8
    block_size: Annotated[
        int | None, _doc("KV cache block size in tokens; unset: 32 on CPU, vLLM's default on GPU.")
    ] = None
    multiprocessing: Annotated[
        bool,
        _doc(
            "Run vLLM's engine core in its own process, so the server never waits for it to answer"
            " the editor (on CPU: starts ~6 s slower). One-shot CLI commands always run it in-process."
        ),
    ] = True
    prefix_caching: Annotated[
        bool,
        _doc(
            "Reuse the KV cache of prompt prefixes seen before (vLLM's automatic prefix caching). Keep it"
            " on: prompts are laid out for it; off only to measure what it is worth."
        ),
    ] = True
    fim_template: Annotated[
        Literal["auto", "qwen", "starcoder", "deepseek", "codellama", "prefix"],
        _doc(
            "Completion prompt format: a fill-in-the-middle family, or prefix (the code before the cursor"
            " only, for models without FIM tokens); auto detects it from the tokenizer."
        ),
    ] = "auto"
    start_timeout_s: Annotated[
        float, msgspec.Meta(gt=0), _doc("Give up starting the engine after this many seconds.")
    ] = 900.0
    stall_timeout_s: Annotated[
        float,
        msgspec.Meta(gt=0),
        _doc(
            "Call the engine unresponsive (and open the circuit breakers of the profiles it serves) when"
            " requests have waited this many seconds without a break and with no output (hung). A stopped"
            " engine process is unresponsive at once."
        ),
    ] = 60.0


class CompletionConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Ghost-text completions."""

    enabled: Annotated[bool, _doc("Offer ghost-text completions.")] = True
    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=1024), _doc("Most tokens generated per completion.")] = (
        64
    )
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2), _doc("Sampling temperature; 0 is greedy.")] = 0.0
    prefix_tokens: Annotated[
        int, msgspec.Meta(ge=16), _doc("Token budget for the code before the cursor.")
    ] = 1536
    suffix_tokens: Annotated[
        int,
        msgspec.Meta(ge=0),
        _doc(
            "Token budget for the code after the cursor. It follows the cursor in the prompt, so it is"
            " computed again at every keystroke: the prefix cache cannot hold it."
        ),
    ] = 128
    multiline: Annotated[
        Literal["auto", "always", "never"],
        _doc("Suggest several lines: always, never, or auto (at the start of a block or an empty line)."),
    ] = "auto"
    timeout_ms: Annotated[
        int,
        msgspec.Meta(ge=10),
        _doc(
            "Hard time budget per completion in ms, from the keystroke's request on; at the deadline the"
            " answer is what is ready (500 suits a GPU; CPU engines need more)."
        ),
    ] = 2000
    debounce_min_ms: Annotated[
        int, msgspec.Meta(ge=0, le=2000), _doc("Shortest wait after a keystroke before generating, in ms.")
    ] = 15
    debounce_max_ms: Annotated[
        int,
        msgspec.Meta(ge=0, le=5000),
        _doc(
            "Longest wait after a keystroke, in ms. The wait adapts to the typing rhythm: fast bursts wait"
            " for the next key, slow typing waits only the minimum."
        ),
    ] = 150
    orphan_grace_ms: Annotated[
        int,
        msgspec.Meta(ge=0, le=5000),
        _doc(
            "How long a cancelled generation keeps running in case the next request can reuse it, in ms"
            " (editors cancel the previous request at every keystroke)."
        ),
    ] = 100
    prefetch: Annotated[bool, _doc("Compute the next suggestion as soon as one is accepted.")] = True
    warmup: Annotated[bool, _doc("Run one short generation when the engine is ready.")] = True


class EditConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Natural-language edits (aicockpit.edit and the AI code actions)."""

    max_tokens: Annotated[int, msgspec.Meta(ge=1), _doc("Most tokens an edit may generate.")] = 1024
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2), _doc("Sampling temperature for edits.")] = 0.0
    context_lines: Annotated[
        int, msgspec.Meta(ge=0), _doc("Lines above and below the selection shown to the model.")
    ] = 40


class ChatConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Chat (aicockpit/chat), explanations and shell suggestions."""

    max_tokens: Annotated[int, msgspec.Meta(ge=1), _doc("Most tokens per chat answer.")] = 768
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2), _doc("Sampling temperature for chat.")] = 0.2
    history_messages: Annotated[
        int, msgspec.Meta(ge=0), _doc("Earlier messages of the session sent with a new one.")
    ] = 20


class NextEditConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Next-edit suggestions: after an edit, the matching change a few lines away (aicockpit/nextEdit)."""

    enabled: Annotated[bool, _doc("Answer next-edit requests (aicockpit/nextEdit).")] = True
    structural: Annotated[
        bool,
        _doc(
            "Suggest renames' next uses and repeated edits' next sites from the syntax tree, without"
            " a model (the model is asked only when there is none)."
        ),
    ] = True
    format: Annotated[
        Literal["auto", "zeta", "instruct"],
        _doc(
            "Prompt format: zeta (Zed's Zeta models), instruct (any chat model); auto: zeta for a model"
            " whose name contains 'zeta'."
        ),
    ] = "auto"
    debounce_ms: Annotated[
        int, msgspec.Meta(ge=0, le=5000), _doc("Wait this long after a request for a newer one, in ms.")
    ] = 100
    region_lines: Annotated[
        int, msgspec.Meta(ge=0, le=50), _doc("Lines above and below the cursor's line the model may rewrite.")
    ] = 5
    context_lines: Annotated[
        int, msgspec.Meta(ge=0, le=200), _doc("Read-only lines shown above and below the editable region.")
    ] = 20
    history_tokens: Annotated[
        int, msgspec.Meta(ge=0), _doc("Token budget for the recent edits (newest kept first).")
    ] = 768
    max_tokens: Annotated[int, msgspec.Meta(ge=16), _doc("Most tokens a suggestion may generate.")] = 256
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2), _doc("Sampling temperature.")] = 0.0


DEFAULT_EXCLUDE = [
    ".git/", ".hg/", ".svn/", "node_modules/", "vendor/", "third_party/", "site-packages/", ".venv/",
    "venv/", "__pycache__/", ".tox/", ".mypy_cache/", ".pytest_cache/", ".ruff_cache/", "dist/",
    "build/", "target/", ".cache/", "*.min.js", "*.min.css", "*.map", "*_pb2.py", "*.pb.go",
    "*.generated.*", "*.lock", "package-lock.json",
]  # fmt: skip
DEFAULT_SECRETS = [
    ".env", ".env.*", "*.env", ".envrc", "*.pem", "*.key", "*.p12", "*.pfx", "*.keystore", "*.jks",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc", ".npmrc", ".pypirc", ".pgpass",
    "credentials", "credentials.*", "*credentials*.json", "*.secret", "secrets.yaml", "secrets.yml",
    "secrets.json", ".htpasswd", "*.kdbx", ".git-credentials", ".dockercfg", "service-account*.json",
]  # fmt: skip


class IndexConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The project index: definitions and imports of every workspace file, kept current."""

    enabled: Annotated[bool, _doc("Crawl and watch the workspace folders.")] = True
    cache_dir: Annotated[
        str | None,
        _doc(
            "SQLite index cache folder; unset: the cache root ($AICOCKPIT_CACHE_DIR or ~/.cache/aicockpit)."
        ),
    ] = None
    exclude: Annotated[
        list[str], _doc("gitignore-style patterns never indexed (on top of each folder's .gitignore).")
    ] = msgspec.field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    secrets: Annotated[
        list[str],
        _doc("gitignore-style patterns of secrets files: never indexed, never read, never sent to a model."),
    ] = msgspec.field(default_factory=lambda: list(DEFAULT_SECRETS))
    max_file_bytes: Annotated[int, msgspec.Meta(ge=1024), _doc("Files bigger than this are not indexed.")] = (
        1_000_000
    )
    max_line_chars: Annotated[
        int, msgspec.Meta(ge=80), _doc("Files with a longer line (minified or generated) are not indexed.")
    ] = 4000
    watch: Annotated[
        Literal["auto", "client", "watchdog", "off"],
        _doc("How to notice changes on disk: auto uses the editor's file watcher when it offers one."),
    ] = "auto"
    debounce_ms: Annotated[
        int, msgspec.Meta(ge=0), _doc("Coalesce file events for this long before updating the index.")
    ] = 300


class ContextConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What the model sees besides the code around the cursor."""

    enabled: Annotated[bool, _doc("Add repository context (definitions, similar code, recent edits).")] = True
    budget_tokens: Annotated[
        int, msgspec.Meta(ge=0), _doc("Token budget for retrieved repository context.")
    ] = 1024
    header_tokens: Annotated[
        int, msgspec.Meta(ge=0), _doc("Token budget for the file's imports when the prefix omits them.")
    ] = 128
    definitions: Annotated[bool, _doc("Retrieve definitions of identifiers used near the cursor.")] = True
    similar_code: Annotated[bool, _doc("Retrieve similar code from open and recently edited files.")] = True
    recent_edits: Annotated[bool, _doc("Retrieve recently edited regions of other files.")] = True
    time_budget_ms: Annotated[
        float, msgspec.Meta(gt=0), _doc("Time box for retrieval per request; sources stop at their share.")
    ] = 20.0


class LoggingConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Server logs (stderr and window/logMessage)."""

    level: Annotated[Literal["debug", "info", "warning", "error"], _doc("Log level.")] = "info"
    prompts: Annotated[
        bool,
        _doc(
            "Keep the last prompts sent to the models (and, for the embedded engine, the prompt as it"
            " tokenized it) for the aicockpit/prompts request. Off by default: prompts hold your code."
        ),
    ] = False
    loop_monitor: Annotated[
        bool,
        _doc(
            "Measure the event loop's stalls (aicockpit/stats event_loop); aicockpit bench and the soak"
            " turn it on. Off by default: a diagnostic (a timer 200 times a second) users need not run."
        ),
    ] = False


class ProfileConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A model to generate with: where it runs, how to prompt it, how to sample, when to give up."""

    backend: Annotated[
        Literal["embedded", "openai"],
        _doc("embedded: a vLLM engine inside the server; openai: an OpenAI-compatible HTTP server."),
    ] = "embedded"
    engine: Annotated[
        EngineConfig | None,
        _doc("Embedded backend: the engine settings; unset: the top-level `engine` section."),
    ] = None
    url: Annotated[
        str,
        _doc("OpenAI backend: base URL up to and including /v1 (vllm serve, Ollama, llama.cpp, LiteLLM)."),
    ] = "http://127.0.0.1:8000/v1"
    model: Annotated[str, _doc("OpenAI backend: the model name the server knows.")] = ""
    api_key_env: Annotated[
        str | None,
        _doc("OpenAI backend: name of the environment variable holding the API key (never the key itself)."),
    ] = None
    tokenizer: Annotated[
        str | None,
        _doc("OpenAI backend: local tokenizer folder or id for token budgets; unset: ~4 characters a token."),
    ] = None
    fim_mode: Annotated[
        Literal["prompt", "suffix"],
        _doc("OpenAI backend: FIM tokens in the prompt, or the API's `suffix` field (Ollama and others)."),
    ] = "prompt"
    fim_template: Annotated[
        Literal["auto", "qwen", "starcoder", "deepseek", "codellama", "prefix"],
        _doc(
            "Completion prompt format for this profile (prefix: no FIM tokens); auto: from the tokenizer"
            " (OpenAI backend without a tokenizer: qwen)."
        ),
    ] = "auto"
    context_length: Annotated[
        int,
        msgspec.Meta(ge=256),
        _doc("OpenAI backend: the served model's context length (prompt plus completion), in tokens."),
    ] = 8192
    temperature: Annotated[
        Annotated[float, msgspec.Meta(ge=0, le=2)] | None,
        _doc("Sampling temperature; unset: the request's."),
    ] = None
    top_p: Annotated[
        Annotated[float, msgspec.Meta(gt=0, le=1)] | None, _doc("Nucleus sampling; unset: the server's.")
    ] = None
    max_tokens: Annotated[
        Annotated[int, msgspec.Meta(ge=1)] | None,
        _doc("Upper bound on tokens generated per request; unset: no cap."),
    ] = None
    extra_body: Annotated[
        dict[str, Any],
        _doc("OpenAI backend: extra JSON fields sent with every request (e.g. vLLM's top_k, min_tokens)."),
    ] = msgspec.field(default_factory=dict)
    connect_timeout_ms: Annotated[
        int, msgspec.Meta(ge=1), _doc("OpenAI backend: give up connecting after this many ms.")
    ] = 2000
    idle_timeout_ms: Annotated[
        int, msgspec.Meta(ge=1), _doc("OpenAI backend: give up when the stream is silent this long (ms).")
    ] = 30000
    retries: Annotated[
        int, msgspec.Meta(ge=0, le=10), _doc("Retries before the first byte arrives (never after).")
    ] = 2
    retry_backoff_ms: Annotated[
        int, msgspec.Meta(ge=0), _doc("First retry delay in ms; doubles with each retry.")
    ] = 100
    breaker_failures: Annotated[
        int, msgspec.Meta(ge=1), _doc("Consecutive failures that open this backend's circuit breaker.")
    ] = 3
    breaker_cooldown_s: Annotated[
        float, msgspec.Meta(gt=0), _doc("Seconds an open breaker waits before letting one probe through.")
    ] = 15.0


DEFAULT_PROFILE = "default"


def _default_profiles() -> dict[str, ProfileConfig]:
    return {DEFAULT_PROFILE: ProfileConfig()}


class RoleConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which profile serves a role, what to fall back to, and the role's time limits."""

    profile: Annotated[str, _doc("Name of the profile (under `profiles`) that serves this role.")] = (
        DEFAULT_PROFILE
    )
    fallback: Annotated[
        list[str], _doc("Profiles tried in order when the role's profile fails or its breaker is open.")
    ] = msgspec.field(default_factory=list)
    first_token_timeout_ms: Annotated[
        int, msgspec.Meta(ge=10), _doc("Give up on a backend (and fall back) when no text came this fast.")
    ] = 10000
    timeout_ms: Annotated[int, msgspec.Meta(ge=10), _doc("Longest a whole generation may take (ms).")] = (
        120000
    )


def _role(first_token_ms: int, total_ms: int) -> Any:
    return lambda: RoleConfig(first_token_timeout_ms=first_token_ms, timeout_ms=total_ms)


ROLES = ("completion", "edit", "chat", "next_edit")


class RolesConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The roles a model plays; one embedded model may serve all of them."""

    completion: RoleConfig = msgspec.field(default_factory=_role(3000, 10000))
    edit: RoleConfig = msgspec.field(default_factory=_role(15000, 120000))
    chat: RoleConfig = msgspec.field(default_factory=_role(15000, 300000))
    next_edit: RoleConfig = msgspec.field(default_factory=_role(5000, 30000))


class UsageConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Token usage per role, model and day (SQLite)."""

    enabled: Annotated[bool, _doc("Record token usage.")] = True
    path: Annotated[
        str | None, _doc("SQLite file; unset: usage.sqlite3 in the cache directory (AICOCKPIT_CACHE_DIR).")
    ] = None


class AicockpitConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything aicockpit can be configured with."""

    engine: EngineConfig = msgspec.field(default_factory=EngineConfig)
    completion: CompletionConfig = msgspec.field(default_factory=CompletionConfig)
    edit: EditConfig = msgspec.field(default_factory=EditConfig)
    chat: ChatConfig = msgspec.field(default_factory=ChatConfig)
    next_edit: NextEditConfig = msgspec.field(default_factory=NextEditConfig)
    cache_dir: Annotated[
        str | None,
        _doc(
            "Per-workspace data (chat sessions) folder; unset: $AICOCKPIT_CACHE_DIR, else ~/.cache/aicockpit."
        ),
    ] = None
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    profiles: Annotated[
        dict[str, ProfileConfig], _doc("Named model profiles; `default` is the embedded `engine` section.")
    ] = msgspec.field(default_factory=_default_profiles)
    roles: RolesConfig = msgspec.field(default_factory=RolesConfig)
    usage: UsageConfig = msgspec.field(default_factory=UsageConfig)
    index: IndexConfig = msgspec.field(default_factory=IndexConfig)
    context: ContextConfig = msgspec.field(default_factory=ContextConfig)


class ConfigError(ValueError):
    """An option was invalid; ``problems`` names each bad field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


_PATH = re.compile(r"at `\$((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*)`")


def decode_config(options: Any, base: AicockpitConfig | None = None) -> tuple[AicockpitConfig, list[str]]:
    """Decode options over ``base`` (defaults when None).

    A bad field never costs the good ones: it is dropped (so its value comes from
    ``base``) and reported in the returned problem list.
    """
    base = base or AicockpitConfig()
    if options is None:
        return base, []
    if not isinstance(options, dict):
        return base, [f"options must be an object, got {type(options).__name__}"]
    merged = merge(msgspec.to_builtins(base), options)
    problems: list[str] = []
    # msgspec names a bad field inside a dict value only as `[...]`: check each
    # profile on its own so one bad field costs neither its profile nor the others.
    if isinstance(merged.get("profiles"), dict):
        merged["profiles"] = _decode_profiles(merged["profiles"], base.profiles, problems)
    for _ in range(64):
        try:
            config = msgspec.convert(merged, AicockpitConfig)
            break
        except msgspec.ValidationError as err:
            problems.append(str(err))
            path = _field_path(str(err))
            if not path or not _drop(merged, path, msgspec.to_builtins(base)):
                return base, problems
    else:
        return base, problems
    return _check_roles(config, base, problems), problems


def _decode_profiles(profiles: dict, base: dict[str, ProfileConfig], problems: list[str]) -> dict:
    out = {}
    for name, tree in profiles.items():
        defaults = msgspec.to_builtins(base.get(name) or ProfileConfig())
        if not isinstance(tree, dict):
            problems.append(f"profiles.{name} must be an object, got {type(tree).__name__}")
            continue
        tree = dict(tree)
        for _ in range(64):
            try:
                msgspec.convert(tree, ProfileConfig)
                out[name] = tree
                break
            except msgspec.ValidationError as err:
                message = str(err).replace("`$", f"`$.profiles.{name}")
                problems.append(message if " - at `" in message else f"{message} - at `$.profiles.{name}`")
                path = _field_path(str(err))
                if not path or not _drop(tree, path, defaults):
                    break
    out.setdefault(DEFAULT_PROFILE, msgspec.to_builtins(ProfileConfig()))
    return out


def _check_roles(config: AicockpitConfig, base: AicockpitConfig, problems: list[str]) -> AicockpitConfig:
    """A role may only name profiles that exist; an unknown name keeps the previous choice."""
    roles = {}
    for role in ROLES:
        current, previous = getattr(config.roles, role), getattr(base.roles, role)
        profile = current.profile
        if profile not in config.profiles:
            problems.append(f"roles.{role}.profile: no profile named {profile!r}")
            profile = previous.profile if previous.profile in config.profiles else DEFAULT_PROFILE
        fallback = []
        for name in current.fallback:
            if name in config.profiles:
                fallback.append(name)
            else:
                problems.append(f"roles.{role}.fallback: no profile named {name!r}")
        roles[role] = msgspec.structs.replace(current, profile=profile, fallback=fallback)
    return msgspec.structs.replace(config, roles=RolesConfig(**roles))


def _field_path(message: str) -> list[str]:
    unknown = re.search(r"Object contains unknown field `([^`]+)`(?: - at `\$([^`]*)`)?", message)
    if unknown:
        parents = [p for p in (unknown.group(2) or "").split(".") if p]
        return parents + [unknown.group(1)]
    match = _PATH.search(message)
    if match:
        return [part for part in match.group(1).split(".") if part and not part.startswith("[")]
    return []


def _drop(tree: dict, path: list[str], defaults: dict) -> bool:
    """Put the base value back at ``path`` (or remove an unknown key)."""
    node, default = tree, defaults
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = default.get(key, {})
            return True
        node, default = node[key], default.get(key, {})
    key = path[-1]
    if key not in node:
        return False
    if isinstance(default, dict) and key in default:
        node[key] = default[key]
    else:
        del node[key]
    return True


def merge(base: dict, update: dict) -> dict:
    """Deep-merge ``update`` into a copy of ``base``."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def json_schema() -> dict:
    """JSON schema of the config tree, for editor settings."""
    return msgspec.json.schema(AicockpitConfig)
