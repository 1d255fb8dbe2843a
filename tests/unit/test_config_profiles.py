"""Profiles and roles in the config tree: old configs load, bad fields cost only themselves."""

from aicockpit.config import DEFAULT_PROFILE, decode_config, json_schema


def test_an_old_config_means_one_embedded_profile_for_every_role():
    config, problems = decode_config({"engine": {"model": "/models/x"}, "completion": {"max_tokens": 8}})
    assert not problems
    assert (
        list(config.profiles) == [DEFAULT_PROFILE] and config.profiles[DEFAULT_PROFILE].backend == "embedded"
    )
    assert config.profiles[DEFAULT_PROFILE].engine is None  # the engine section is its engine
    assert {config.roles.completion.profile, config.roles.edit.profile, config.roles.chat.profile} == {
        "default"
    }


def test_a_bad_field_in_one_profile_costs_only_that_field():
    config, problems = decode_config(
        {
            "profiles": {
                "big": {"backend": "openai", "model": "m", "temperature": 9, "bogus": 1},
                "small": {"engine": {"model": "s", "max_model_len": 1}},
                "broken": 42,
            },
            "roles": {
                "chat": {"profile": "big", "fallback": ["default", "missing"]},
                "edit": {"profile": "nope"},
            },
        }
    )
    assert config.profiles["big"].model == "m" and config.profiles["big"].temperature is None
    assert (
        config.profiles["small"].engine.model == "s" and config.profiles["small"].engine.max_model_len == 8192
    )
    assert "broken" not in config.profiles
    assert config.roles.chat.profile == "big" and config.roles.chat.fallback == ["default"]
    assert config.roles.edit.profile == "default"
    text = " | ".join(problems)
    for expected in (
        "bogus",
        "$.profiles.big.temperature",
        "profiles.small",
        "profiles.broken",
        "'missing'",
        "'nope'",
    ):
        assert expected in text, (expected, problems)


def test_the_schema_describes_profiles_and_roles():
    schema = json_schema()
    profile = schema["$defs"]["ProfileConfig"]["properties"]
    assert "environment variable" in profile["api_key_env"]["description"]
    assert "fallback" in schema["$defs"]["RoleConfig"]["properties"]
