#!/usr/bin/env bash
# The headless demo: complete `total = ` in a fixture file with the tiny model on the
# embedded vLLM engine, and print the completion with its figures as JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/aicockpit complete fixtures/workspaces/python/shop/checkout.py --line 21 --col 17 \
  --model fixtures/tiny_model/out --enforce-eager --max-model-len 4096 --json
