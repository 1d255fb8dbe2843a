import json

import pytest

from aicockpit.config import EngineConfig
from aicockpit.engine.model_source import MARKER, ModelSourceError, check_model_source
from aicockpit.engine.vllm_local import running_vllm


@pytest.fixture(autouse=True)
def hub_env(monkeypatch, tmp_path):
    """An empty hub cache of the test's own, and the network's state left to each test."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def model_folder(path, *, marker=True, config=True, weights=True):
    path.mkdir(parents=True)
    if config:
        (path / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    if weights:
        (path / "model.safetensors").write_bytes(b"x" * 64)
    if marker:
        files = {p.name: p.stat().st_size for p in sorted(path.iterdir())}
        (path / MARKER).write_text(json.dumps({"converter_version": 1, "files": files}))
    return path


def test_complete_folders_pass_with_or_without_the_marker(tmp_path):
    check_model_source(str(model_folder(tmp_path / "converted")))
    check_model_source(str(model_folder(tmp_path / "downloaded", marker=False)))


@pytest.mark.parametrize("value", ["/no/such/model", "./no-such-model", "~/no-such-model-xyz", "a/b/c"])
def test_a_missing_folder_is_named(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelSourceError, match=r"^model folder /\S+ does not exist$") as caught:
        check_model_source(value)
    assert value.lstrip(".~") in str(caught.value)


def test_a_relative_folder_is_shown_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelSourceError, match="does not exist") as caught:
        check_model_source("./models/gone")
    assert str(tmp_path / "models" / "gone") in str(caught.value)


def incomplete(folder):
    with pytest.raises(ModelSourceError) as caught:
        check_model_source(str(folder))
    message = str(caught.value)
    assert message.startswith(f"model folder {folder} is incomplete (half-converted?)")
    assert message.endswith("run `bash scripts/setup.sh` to convert it again")
    return message


def test_a_file_the_marker_lists_is_missing_or_truncated(tmp_path):
    folder = model_folder(tmp_path / "m")
    (folder / "model.safetensors").unlink()
    assert "missing or truncated model.safetensors" in incomplete(folder)
    (folder / "model.safetensors").write_bytes(b"x" * 10)
    assert "missing or truncated model.safetensors" in incomplete(folder)


def test_an_unreadable_marker(tmp_path):
    folder = model_folder(tmp_path / "m")
    (folder / MARKER).write_text("{not json")
    assert f"unreadable {MARKER}" in incomplete(folder)


@pytest.mark.parametrize("marker", [True, False])
def test_no_config_or_no_weights(tmp_path, marker):
    assert "no config.json" in incomplete(model_folder(tmp_path / "a", marker=marker, config=False))
    assert "no weights" in incomplete(model_folder(tmp_path / "b", marker=marker, weights=False))


def test_a_missing_shard(tmp_path):
    folder = model_folder(tmp_path / "m", marker=False, weights=False)
    (folder / "model-00001-of-00002.safetensors").write_bytes(b"x")
    weight_map = {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    assert "missing model-00002-of-00002.safetensors" in incomplete(folder)


def test_a_hub_id_offline_and_not_cached_is_named_both_ways(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelSourceError) as caught:
        check_model_source("Qwen/Qwen2.5-Coder-1.5B")
    assert str(caught.value) == (
        f"Qwen/Qwen2.5-Coder-1.5B is neither a model folder ({tmp_path}/Qwen/Qwen2.5-Coder-1.5B does not"
        " exist) nor a downloaded Hugging Face model (offline: nothing can be downloaded)"
    )


@pytest.mark.parametrize("offline", [True, False])
def test_a_relative_folder_in_an_existing_folder_is_a_folder(offline, monkeypatch, tmp_path):
    """`models/coder` reads like a hub id; with `models/` here it is a folder, online or not."""
    monkeypatch.chdir(tmp_path)
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "models").mkdir()
    with pytest.raises(ModelSourceError) as caught:
        check_model_source("models/coder")
    assert str(caught.value) == f"model folder {tmp_path}/models/coder does not exist"


def test_a_hub_id_offline_but_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = tmp_path / "hub" / "models--Org--Name"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "config.json").write_text("{}")
    check_model_source("Org/Name")


def test_a_hub_id_online_is_left_to_the_hub(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    check_model_source("Org/Name")


def test_what_is_not_certainly_wrong_passes(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    check_model_source(str(gguf))  # a single file: vLLM's to judge
    check_model_source("gpt2")  # a bare hub name, not a path


def test_a_hub_id_that_exists_as_a_folder_is_a_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model_folder(tmp_path / "org" / "name", marker=False, weights=False)
    assert "no weights" in incomplete(tmp_path / "org" / "name")
    with pytest.raises(ModelSourceError, match="no weights"):
        check_model_source("org/name")


async def test_the_embedded_engine_checks_its_model_before_loading(tmp_path):
    with pytest.raises(ModelSourceError, match="does not exist"):
        async with running_vllm(EngineConfig(model=str(tmp_path / "gone"))):
            pass
