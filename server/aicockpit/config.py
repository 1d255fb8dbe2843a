"""The one typed configuration tree.

Decoded from ``initializationOptions`` and ``workspace/didChangeConfiguration``
(and from CLI flags). Every field has a default and a description; the
descriptions feed ``aicockpit schema``, the source of editor settings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

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
    cpu_nice: Annotated[
        int,
        msgspec.Meta(ge=0, le=19),
        _doc(
            "Niceness of the engine's processes on CPU-only machines (0-19; 0: the server's own): the"
            " model takes every core it can, and when the user types, the editor and this server get"
            " one at once instead of waiting for the model's time slice."
        ),
    ] = 10
    max_num_seqs: Annotated[int, msgspec.Meta(ge=1), _doc("Most requests the engine runs at once.")] = 8
    block_size: Annotated[
        int | None, _doc("KV cache block size in tokens; unset: 32 on CPU, vLLM's default on GPU.")
    ] = None
    multiprocessing: Annotated[
        bool,
        _doc(
            "Run the model in a worker process under vLLM's engine core (its CPU backend binds"
            " OpenMP threads properly only there); off: the engine core runs it itself, ~6 s sooner"
            " ready on CPU. The engine core has a process of its own either way, so the server never"
            " waits for the model. One-shot CLI commands turn it off."
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


class LatencyTarget(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How long a suggestion may take, from the request to its text; the prompt budgets follow from it."""

    cold: Annotated[
        int,
        msgspec.Meta(ge=50),
        _doc(
            "For a prompt the engine has not seen (a file just opened, a jump elsewhere), in ms: the"
            " prompt is sized so that its prefill and a one-line answer fit in this."
        ),
    ] = 2500
    cached: Annotated[
        int,
        msgspec.Meta(ge=20),
        _doc(
            "While typing, when all but the cursor's line is in the prefix cache, in ms: the tokens"
            " generated (and the suffix, computed again at every keystroke) are sized to fit in this."
        ),
    ] = 800


class CompletionConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Ghost-text completions."""

    enabled: Annotated[bool, _doc("Offer ghost-text completions.")] = True
    latency_target_ms: Annotated[
        LatencyTarget,
        _doc(
            "The latency the budgets aim at. The server measures the engine's prefill and decode speed"
            " (at warm-up, then from every request) and sizes prompts and max_tokens to meet it: small"
            " on a CPU, up to what the model can use on a GPU. Budgets set explicitly win."
        ),
    ] = msgspec.field(default_factory=LatencyTarget)
    adaptive_budgets: Annotated[
        bool,
        _doc(
            "Size unset budgets to the latency target from the measured speed; off: the fixed defaults"
            " (1536 prefix, 128 suffix, 128 header, 1024 context, 64 tokens), whatever the machine."
        ),
    ] = True
    max_tokens: Annotated[
        Annotated[int, msgspec.Meta(ge=1, le=1024)] | None,
        _doc("Most tokens generated per completion; unset: sized to the latency target (64 until measured)."),
    ] = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2), _doc("Sampling temperature; 0 is greedy.")] = 0.0
    prefix_tokens: Annotated[
        Annotated[int, msgspec.Meta(ge=16)] | None,
        _doc("Token budget for the code before the cursor; unset: sized to the latency target."),
    ] = None
    suffix_tokens: Annotated[
        Annotated[int, msgspec.Meta(ge=0)] | None,
        _doc(
            "Token budget for the code after the cursor; unset: sized to the latency target. It follows"
            " the cursor in the prompt, so it is computed again at every keystroke: the prefix cache"
            " cannot hold it."
        ),
    ] = None
    multiline: Annotated[
        Literal["auto", "always", "never"],
        _doc("Suggest several lines: always, never, or auto (at the start of a block or an empty line)."),
    ] = "auto"
    timeout_ms: Annotated[
        Annotated[int, msgspec.Meta(ge=10)] | None,
        _doc(
            "Hard time budget per completion in ms, from the keystroke's request on; at the deadline the"
            " answer is what is ready. Unset: from the measured speed, enough for the prompt at hand"
            " (at least the cold latency target), so a slow machine answers late rather than never."
        ),
    ] = None
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
    warmup: Annotated[
        bool,
        _doc(
            "When the engine is ready, run two short generations that measure its prefill and decode speed."
        ),
    ] = True
    prewarm: Annotated[
        bool,
        _doc(
            "When a document is opened or focused, or the cursor moves to another part of it, prefill the"
            " prompt the next completion there will start with, at the lowest priority (embedded engine)."
        ),
    ] = True


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
        int,
        msgspec.Meta(ge=0, le=5000),
        _doc(
            "Wait this long after a request for a newer one, in ms: editors ask at every change and the"
            " server answers once the edits settle (a rename is not suggested half-typed)."
        ),
    ] = 300
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
    in_code_actions: Annotated[
        bool,
        _doc(
            'Compute a next edit when code actions are asked for and none is held, so that "Apply'
            ' suggested edit" is listed in editors that cannot send aicockpit/nextEdit (Helix); the'
            " list waits for it."
        ),
    ] = False


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
        Annotated[int, msgspec.Meta(ge=0)] | None,
        _doc("Token budget for retrieved repository context; unset: sized to the latency target."),
    ] = None
    header_tokens: Annotated[
        Annotated[int, msgspec.Meta(ge=0)] | None,
        _doc(
            "Token budget for the file's imports when the prefix omits them; unset: sized to the"
            " latency target."
        ),
    ] = None
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
        int,
        msgspec.Meta(ge=10),
        _doc(
            "Remote backends: give up on one (retry, then fall back) when no text came this fast. An"
            " embedded engine is never timed out as a failure: slowness is not a fault there (the"
            " completion deadline and budgets handle it, engine.stall_timeout_s a hang)."
        ),
    ] = 10000
    timeout_ms: Annotated[
        int, msgspec.Meta(ge=10), _doc("Remote backends: longest a whole generation may take (ms).")
    ] = 120000


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


def decode_config(options: Any, base: AicockpitConfig | None = None) -> tuple[AicockpitConfig, list[str]]:
    """Decode options over ``base`` (defaults when None).

    A bad field never costs the good ones: each field is checked against its own
    type (msgspec's type info walks the tree), a bad one keeps its value from
    ``base`` and is named in the returned problem list.
    """
    base = base or AicockpitConfig()
    if options is None:
        return base, []
    if not isinstance(options, dict):
        return base, [f"options must be an object, got {type(options).__name__}"]
    problems: list[str] = []
    config = _decode_struct(options, base, "$", problems)
    return _check_roles(config, base, problems), problems


S = TypeVar("S", bound=msgspec.Struct)


def _decode_struct(options: dict[str, Any], base: S, at: str, problems: list[str]) -> S:
    """``options`` over ``base``, field by field; ``at`` is where ``options`` sits in the tree."""
    fields = {f.encode_name: f for f in msgspec.structs.fields(base)}
    changes = {}
    for key, value in options.items():
        field = fields.get(key)
        if field is None:
            problems.append(f"Object contains unknown field `{key}` - at `{at}`")
            continue
        where = f"{at}.{key}"
        try:
            changes[field.name] = _decode_value(value, field.type, getattr(base, field.name), where, problems)
        except msgspec.ValidationError as err:
            # msgspec locates a problem inside the value from the value (`$[2]`): from the tree's root here.
            message = str(err)
            problems.append(
                message.replace("`$", f"`{where}") if " - at `$" in message else f"{message} - at `{where}`"
            )
    return msgspec.structs.replace(base, **changes)


def _decode_value(value: Any, annotation: Any, current: Any, where: str, problems: list[str]) -> Any:
    """A section is decoded field by field over its current value, a named set of them (profiles) entry
    by entry; any other value is converted whole (one field: it is good or it is not)."""
    info = _unwrap(msgspec.inspect.type_info(annotation))
    section = _struct_of(info)
    if section is not None and isinstance(value, dict):
        return _decode_struct(value, current if isinstance(current, section) else section(), where, problems)
    entry = _struct_of(_unwrap(info.value_type)) if isinstance(info, msgspec.inspect.DictType) else None
    if entry is not None and isinstance(value, dict) and isinstance(current, dict):
        out = dict(current)
        for name, tree in value.items():
            if isinstance(tree, dict):
                out[name] = _decode_struct(tree, current.get(name) or entry(), f"{where}.{name}", problems)
            else:
                problems.append(f"Expected `object`, got `{type(tree).__name__}` - at `{where}.{name}`")
        return out
    if isinstance(value, dict) and isinstance(current, dict):  # free-form objects (extra_body) merge too
        value = merge(msgspec.to_builtins(current), value)
    return msgspec.convert(value, annotation)


def _unwrap(info: msgspec.inspect.Type) -> msgspec.inspect.Type:
    return info.type if isinstance(info, msgspec.inspect.Metadata) else info


def _struct_of(info: msgspec.inspect.Type) -> type[msgspec.Struct] | None:
    """The section type of a field: a struct, or a struct that may be unset (a profile's ``engine``)."""
    if isinstance(info, msgspec.inspect.StructType):
        return info.cls
    if isinstance(info, msgspec.inspect.UnionType):
        return next((t.cls for t in info.types if isinstance(t, msgspec.inspect.StructType)), None)
    return None


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


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``update`` into a copy of ``base``."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def json_schema() -> dict[str, Any]:
    """JSON schema of the config tree, for editor settings."""
    return msgspec.json.schema(AicockpitConfig)
