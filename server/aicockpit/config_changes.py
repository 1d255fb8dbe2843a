"""Who hears about which settings: ``changes.subscribe("index", on_index)``.

A feature subscribes to the config sections it reads and is called, with the
previous and the new value, only when one of them changed. Each callback runs
on its own: one that raises is logged and costs neither the others nor the
request that changed the settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aicockpit.config import AicockpitConfig

log = logging.getLogger(__name__)

# (previous, current): one section's values, or tuples of them for several sections.
ChangeCallback = Callable[[Any, Any], None]
SECTIONS = frozenset(AicockpitConfig.__struct_fields__)


class ConfigChanges:
    def __init__(self) -> None:
        self._subscribers: list[tuple[tuple[str, ...], bool, ChangeCallback]] = []

    def subscribe(self, sections: str | tuple[str, ...], callback: ChangeCallback) -> None:
        """Call ``callback(previous, current)`` when ``sections`` change.

        One section: its previous and new values. Several: tuples of them, in the
        order given (one call however many of them changed).
        """
        names = (sections,) if isinstance(sections, str) else tuple(sections)
        unknown = [name for name in names if name not in SECTIONS]
        if unknown or not names:
            raise ValueError(f"no config section {', '.join(unknown) or '(none given)'}")
        self._subscribers.append((names, isinstance(sections, str), callback))

    def publish(self, previous: AicockpitConfig, current: AicockpitConfig) -> None:
        for names, single, callback in list(self._subscribers):
            old = tuple(getattr(previous, name) for name in names)
            new = tuple(getattr(current, name) for name in names)
            if old == new:
                continue
            try:
                callback(old[0], new[0]) if single else callback(old, new)
            except Exception:
                log.exception("applying new %s settings failed", "/".join(names))
