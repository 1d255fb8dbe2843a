"""A role's prompt target without its engine: what ``aicockpit context`` and the benchmarks build for.

The tokenizer and ``PromptFormat`` the role's backend would have, from local
files only: nothing is loaded into memory but the tokenizer, nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from aicockpit.config import AicockpitConfig
from aicockpit.engine.openai_remote import load_tokenizer, prompt_format
from aicockpit.engine.tokenizer import load_local_tokenizer
from aicockpit.engine.vllm_local import embedded_prompt_format
from aicockpit.generation import PromptFormat, TokenCounter


@dataclass(frozen=True)
class OfflineTarget:
    tokenizer: TokenCounter
    prompt_format: PromptFormat
    backend: str  # the profile's name


def offline_target(config: AicockpitConfig, role: str = "completion") -> OfflineTarget:
    """What ``role``'s own profile would be built for (its fallbacks are not looked at)."""
    name = getattr(config.roles, role).profile
    profile = config.profiles[name]
    if profile.backend == "embedded":
        engine = profile.engine or config.engine
        tokenizer = load_local_tokenizer(engine.tokenizer or engine.model)
        return OfflineTarget(tokenizer, embedded_prompt_format(engine), name)
    return OfflineTarget(load_tokenizer(profile), prompt_format(profile), name)
