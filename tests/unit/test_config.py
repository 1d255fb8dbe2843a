import msgspec

from aicockpit.config import AicockpitConfig, decode_config, json_schema


def test_defaults_and_good_options():
    config, problems = decode_config({"completion": {"max_tokens": 12}})
    assert problems == []
    assert config.completion.max_tokens == 12
    assert config.engine.model == "Qwen/Qwen2.5-Coder-1.5B"


def test_each_bad_field_is_named_and_falls_back_alone():
    options = {
        "completion": {"max_tokens": "many", "temperature": 0.5, "multiline": "maybe"},
        "engine": {"typo_field": 1, "dtype": "float32"},
    }
    config, problems = decode_config(options)
    text = " | ".join(problems)
    assert "completion.max_tokens" in text and "completion.multiline" in text and "typo_field" in text
    assert config.completion.max_tokens == AicockpitConfig().completion.max_tokens
    assert config.completion.temperature == 0.5
    assert config.engine.dtype == "float32"


def test_wrong_shapes_do_not_raise():
    assert decode_config(42)[1]
    config, problems = decode_config({"completion": 5})
    assert problems and config.completion == AicockpitConfig().completion


def test_decoding_over_a_base_keeps_its_values():
    base, _ = decode_config({"engine": {"model": "/models/x"}})
    config, _ = decode_config({"completion": {"enabled": False}}, base)
    assert config.engine.model == "/models/x" and config.completion.enabled is False


def test_schema_describes_every_field():
    schema = json_schema()
    defs = schema["$defs"]
    for name in ("EngineConfig", "CompletionConfig"):
        for field, spec in defs[name]["properties"].items():
            assert spec.get("description"), f"{name}.{field} has no description"
    msgspec.json.encode(schema)


def test_problems_are_located_from_the_root_and_keep_the_previous_value():
    base, _ = decode_config({"index": {"exclude": ["dist/"]}, "profiles": {"big": {"model": "m"}}})
    config, problems = decode_config(
        {"index": {"exclude": ["a", 3]}, "profiles": {"big": {"engine": {"max_model_len": 1}}}}, base
    )
    assert problems == [
        "Expected `str`, got `int` - at `$.index.exclude[1]`",
        "Expected `int` >= 256 - at `$.profiles.big.engine.max_model_len`",
    ]
    assert config.index.exclude == ["dist/"]
    assert config.profiles["big"].model == "m" and config.profiles["big"].engine.max_model_len == 8192
