"""Features hear about the settings they subscribed to, with the previous value, each on its own."""

from __future__ import annotations

import logging

import pytest

from aicockpit.config import AicockpitConfig, decode_config
from aicockpit.config_changes import ConfigChanges


def configs(options):
    before, _ = decode_config({})
    after, problems = decode_config(options, before)
    assert not problems
    return before, after


def test_only_subscribers_of_a_changed_section_are_called_with_old_and_new_values():
    changes = ConfigChanges()
    seen = []
    changes.subscribe("index", lambda old, new: seen.append(("index", old.debounce_ms, new.debounce_ms)))
    changes.subscribe("chat", lambda old, new: seen.append(("chat", old, new)))
    before, after = configs({"index": {"debounce_ms": 999}})
    changes.publish(before, after)
    assert seen == [("index", before.index.debounce_ms, 999)]


def test_several_sections_make_one_call_with_tuples():
    changes = ConfigChanges()
    seen = []
    changes.subscribe(("engine", "roles"), lambda old, new: seen.append((old, new)))
    before, after = configs({"engine": {"max_model_len": 4096}, "roles": {"chat": {"timeout_ms": 1234}}})
    changes.publish(before, after)
    assert len(seen) == 1
    (old_engine, old_roles), (new_engine, new_roles) = seen[0]
    assert (old_engine.max_model_len, new_engine.max_model_len) == (8192, 4096)
    assert new_roles.chat.timeout_ms == 1234 and old_roles == before.roles


def test_a_failing_subscriber_costs_neither_the_others_nor_the_caller(caplog):
    changes = ConfigChanges()
    seen = []

    def broken(old, new):
        raise RuntimeError("listener bug")

    changes.subscribe("completion", broken)
    changes.subscribe("completion", lambda old, new: seen.append(new.max_tokens))
    before, after = configs({"completion": {"max_tokens": 7}})
    with caplog.at_level(logging.ERROR, logger="aicockpit.config_changes"):
        changes.publish(before, after)
    assert seen == [7]
    assert any("completion" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_misspelt_section_is_refused_at_once():
    with pytest.raises(ValueError, match="indexx"):
        ConfigChanges().subscribe("indexx", lambda old, new: None)


def test_a_live_section_follows_each_published_change_and_the_whole_config_too():
    changes = ConfigChanges()
    first = AicockpitConfig()
    completion = changes.live("completion", first.completion)
    whole = changes.live_config(first)
    second = decode_config({"completion": {"max_tokens": 7}}, first)[0]
    changes.publish(first, second)
    assert completion().max_tokens == 7 and whole() is second
    third = decode_config({"chat": {"max_tokens": 9}}, second)[0]
    changes.publish(second, third)
    assert completion() is second.completion and whole().chat.max_tokens == 9
