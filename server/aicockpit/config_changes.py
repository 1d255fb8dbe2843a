"""Who hears about which settings: ``changes.subscribe("index", on_index)``.

The one way settings reach the services: a feature subscribes to the config
sections it reads and is called, with the previous and the new value, only when
one of them changed; a service that reads its settings at each request gets a
``Live`` value (``changes.live("completion", config.completion)``), kept current
by the same subscription. Each callback runs on its own: one that raises is
logged and costs neither the others nor the request that changed the settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from aicockpit.config import AicockpitConfig

log = logging.getLogger(__name__)

# (previous, current): one section's values, or tuples of them for several sections.
ChangeCallback = Callable[[Any, Any], None]
SECTIONS = frozenset(AicockpitConfig.__struct_fields__)
T = TypeVar("T")


class Live(Generic[T]):
    """Settings as they are now: ``live()`` returns the latest value published."""

    def __init__(self, value: T) -> None:
        self._value = value

    def __call__(self) -> T:
        return self._value

    def update(self, _previous: T, current: T) -> None:
        self._value = current


class ConfigChanges:
    def __init__(self) -> None:
        self._subscribers: list[tuple[tuple[str, ...], bool, ChangeCallback]] = []
        self._everything: list[Live[AicockpitConfig]] = []

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

    def live(self, section: str, value: T) -> Live[T]:
        """``value`` (the section now), replaced by each change published for ``section``."""
        live = Live(value)
        self.subscribe(section, live.update)
        return live

    def live_config(self, config: AicockpitConfig) -> Live[AicockpitConfig]:
        """The whole config, for a service that reads several sections at once."""
        live = Live(config)
        self._everything.append(live)
        return live

    def publish(self, previous: AicockpitConfig, current: AicockpitConfig) -> None:
        for live in self._everything:
            live.update(previous, current)
        for names, single, callback in list(self._subscribers):
            old = tuple(getattr(previous, name) for name in names)
            new = tuple(getattr(current, name) for name in names)
            if old == new:
                continue
            try:
                callback(old[0], new[0]) if single else callback(old, new)
            except Exception:
                log.exception("applying new %s settings failed", "/".join(names))
