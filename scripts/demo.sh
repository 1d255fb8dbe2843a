#!/usr/bin/env bash
# The headless demo: complete `total = ` in a fixture file with a real model
# (SmolLM2-135M-Instruct, converted by setup.sh) on the embedded vLLM engine, with the
# fixture project indexed for repository context, and print the completion with its
# figures as JSON. The engine's log (vLLM, torch) goes to a file unless -v/--verbose;
# errors, and the log's last lines on a failure, are shown either way.
#   bash scripts/demo.sh [-v|--verbose]
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/aicockpit complete fixtures/workspaces/python/shop/checkout.py --line 21 --col 17 \
  --workspace fixtures/workspaces/python \
  --model .cache/models/SmolLM2-135M-Instruct --enforce-eager --max-model-len 4096 --json "$@"
