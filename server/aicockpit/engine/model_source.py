"""Is the embedded engine's model where the config says? One clear message before vLLM starts.

Left to itself, vLLM answers a mistyped folder, a half-converted one or a hub id on
an offline machine with a long traceback about repository ids and retries. These
checks are cheap (a few stats) and only catch what is certainly wrong: whatever
they let through, vLLM still judges (a single GGUF file, an unsupported architecture).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from aicockpit.engine.base import EngineSetupError

# Written last by scripts/convert_smollm2.py: the files it lists, with their sizes.
MARKER = "aicockpit-model.json"
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt")
SHARD_INDEX = "model.safetensors.index.json"
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


class ModelSourceError(EngineSetupError):
    """The model cannot be loaded for a reason the user can fix; the message says how."""

    setting = "engine.model"  # what to change (editors offer to open it)


def check_model_source(model: str) -> None:
    """Raise ``ModelSourceError`` if ``model`` (engine.model) is certainly not loadable."""
    path = Path(model).expanduser()
    if path.is_dir():
        _check_folder(path.absolute())
    elif path.exists():
        return  # a file (a GGUF, say): vLLM's to judge
    # Where to fix it (the setting, or the flag that overrides it) is the caller's to say.
    elif _is_hub_id(model) and not _in_local_folder(path):
        if _offline() and not _in_hub_cache(model):
            # `org/name` reads both ways: say what is missing under either reading.
            raise ModelSourceError(
                f"{model} is neither a model folder ({path.absolute()} does not exist) nor a"
                " downloaded Hugging Face model (offline: nothing can be downloaded)"
            )
    elif _is_path_like(model):
        raise ModelSourceError(f"model folder {path.absolute()} does not exist")


def _is_hub_id(model: str) -> bool:
    return not model.startswith((".", "~")) and HUB_ID.fullmatch(model) is not None


def _in_local_folder(path: Path) -> bool:
    """`models/coder` where `models/` is a folder here: a folder path whatever its shape."""
    return path.parent.is_dir()


def _is_path_like(model: str) -> bool:
    return os.path.isabs(model) or model.startswith((".", "~")) or os.sep in model or "/" in model


def _check_folder(folder: Path) -> None:
    def incomplete(what: str) -> ModelSourceError:
        return ModelSourceError(
            f"model folder {folder} is incomplete (half-converted?): {what}; "
            "run `bash scripts/setup.sh` to convert it again"
        )

    if (folder / MARKER).exists():
        try:
            listed = json.loads((folder / MARKER).read_text())["files"]
            wrong = sorted(name for name, size in listed.items() if _size(folder / name) != size)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise incomplete(f"unreadable {MARKER}") from None
        if wrong:
            raise incomplete(f"missing or truncated {', '.join(wrong)}")
    if not (folder / "config.json").is_file():
        raise incomplete("no config.json")
    if not any(next(folder.glob(pattern), None) for pattern in WEIGHT_PATTERNS):
        raise incomplete("no weights (*.safetensors, *.bin or *.pt)")
    if (folder / SHARD_INDEX).is_file():
        try:
            shards = set(json.loads((folder / SHARD_INDEX).read_text())["weight_map"].values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise incomplete(f"unreadable {SHARD_INDEX}") from None
        missing = sorted(name for name in shards if not (folder / name).is_file())
        if missing:
            raise incomplete(f"missing {', '.join(missing)}")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


def _hub_cache() -> Path:
    """Where huggingface_hub keeps downloads, read now (its own constants are fixed at import)."""
    if cache := os.environ.get("HF_HUB_CACHE"):
        return Path(cache).expanduser()
    if home := os.environ.get("HF_HOME"):
        return Path(home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "huggingface" / "hub"


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json", cache_dir=_hub_cache())
    except ValueError:  # not a valid repo id ("a--b/c"): nothing of it can be cached
        return False
    return isinstance(found, str)
